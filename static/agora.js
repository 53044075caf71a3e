// Progressive enhancement only: every page works without this file.
document.addEventListener("DOMContentLoaded", () => {
  // Copy buttons: <button data-copy="#id"> copies the text of the element it names.
  document.querySelectorAll("button[data-copy]").forEach((button) => {
    button.hidden = false;
    button.addEventListener("click", async () => {
      const target = document.querySelector(button.dataset.copy);
      if (!target || !navigator.clipboard) return;
      await navigator.clipboard.writeText(target.textContent.trim());
      button.textContent = button.dataset.copied || button.textContent;
    });
  });
  // Forms with data-confirm ask before destructive actions.
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
});

// Task board: drag a card onto another column; the card's own move form is submitted,
// so the server does exactly what the "Déplacer" button does without JavaScript.
document.addEventListener("DOMContentLoaded", () => {
  let dragged = null;
  document.querySelectorAll(".board-card[draggable=true]").forEach((card) => {
    card.addEventListener("dragstart", (event) => {
      dragged = card;
      event.dataTransfer.setData("text/plain", card.dataset.task);
    });
  });
  document.querySelectorAll(".board-column").forEach((column) => {
    column.addEventListener("dragover", (event) => {
      if (dragged) { event.preventDefault(); column.classList.add("is-drop-target"); }
    });
    column.addEventListener("dragleave", () => column.classList.remove("is-drop-target"));
    column.addEventListener("drop", (event) => {
      event.preventDefault();
      column.classList.remove("is-drop-target");
      if (!dragged) return;
      const form = dragged.querySelector(".move-form");
      form.querySelector("select").value = column.dataset.status;
      form.submit();
    });
  });
});

// Document upload: drop files on the form and watch a progress bar. The same form posts
// without JavaScript; here it is sent with XMLHttpRequest so the upload can report progress.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("form.upload-form").forEach((form) => {
    const input = form.querySelector("input[type=file]");
    const zone = form.querySelector(".drop-zone");
    const progress = form.querySelector(".upload-progress");
    const bar = progress.querySelector("progress");
    const status = form.querySelector(".upload-status");
    form.querySelector(".drop-hint").hidden = false;
    ["dragenter", "dragover"].forEach((name) => zone.addEventListener(name, (event) => {
      event.preventDefault();
      zone.classList.add("is-drop-target");
    }));
    ["dragleave", "drop"].forEach((name) => zone.addEventListener(name, () => zone.classList.remove("is-drop-target")));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      if (event.dataTransfer.files.length) input.files = event.dataTransfer.files;
    });
    form.addEventListener("submit", (event) => {
      if (!input.files.length || !window.FormData) return;  // let the browser show the server's message
      event.preventDefault();
      const request = new XMLHttpRequest();
      request.open("POST", form.action);
      request.setRequestHeader("Accept", "application/json");
      request.upload.addEventListener("progress", (progressEvent) => {
        if (progressEvent.lengthComputable) bar.value = Math.round(progressEvent.loaded * 100 / progressEvent.total);
      });
      request.addEventListener("load", () => {
        let answer = {};
        try { answer = JSON.parse(request.responseText); } catch (error) { answer = {}; }
        if (answer.redirect) { window.location.assign(answer.redirect); return; }
        progress.hidden = true;
        const fallback = request.status === 413 ? form.dataset.tooBig : form.dataset.failed;
        status.textContent = (answer.errors || [fallback]).join(" ");
      });
      request.addEventListener("error", () => {
        progress.hidden = true;
        status.textContent = form.dataset.failed;
      });
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;  // one click, one upload
      request.addEventListener("loadend", () => { button.disabled = false; });
      status.textContent = "";
      bar.value = 0;
      progress.hidden = false;
      request.send(new FormData(form));
    });
  });
});

// « Écouter »: the browser reads a post, a news item or an event aloud in the page's language
// (speech synthesis: no server, no third party). Without it, the buttons stay hidden.
document.addEventListener("DOMContentLoaded", () => {
  if (!("speechSynthesis" in window) || !("SpeechSynthesisUtterance" in window)) return;
  const lang = document.documentElement.lang === "en" ? "en-GB" : "fr-FR";
  let speaking = null;
  const reset = (button) => {
    button.querySelector(".listen-label").textContent = button.dataset.listen;
    if (speaking === button) speaking = null;
  };
  document.querySelectorAll("button[data-speak]").forEach((button) => {
    button.hidden = false;
    button.dataset.listen = button.querySelector(".listen-label").textContent;
    button.addEventListener("click", () => {
      const wasMine = speaking === button;
      window.speechSynthesis.cancel();
      if (speaking) reset(speaking);
      if (wasMine) return;  // the button said « Arrêter »
      const text = [...document.querySelectorAll(button.dataset.speak)].map((el) => el.innerText.trim()).join(".\n");
      const utterance = new SpeechSynthesisUtterance(text);
      utterance.lang = lang;
      const voice = window.speechSynthesis.getVoices().find((v) => v.lang.replace("_", "-").startsWith(lang.slice(0, 2)));
      if (voice) utterance.voice = voice;
      utterance.addEventListener("end", () => reset(button));
      utterance.addEventListener("error", () => reset(button));
      speaking = button;
      button.querySelector(".listen-label").textContent = button.dataset.stop;
      window.speechSynthesis.speak(utterance);
    });
  });
});

// Voice messages. A player shows its length beside its title once the browser knows it. The
// « Parler » recorder (MediaRecorder) puts its recording into the form's voice field, so it is
// sent like a file chosen by hand; without a recorder or a microphone, that field stays.
document.addEventListener("DOMContentLoaded", () => {
  // Whole seconds, counted down as players count them, so the two lengths shown agree.
  const clock = (seconds) => {
    const whole = Math.max(0, Math.floor(seconds));
    return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
  };
  document.querySelectorAll(".voice-message audio").forEach((audio) => {
    const shown = audio.closest(".voice-message").querySelector(".voice-duration");
    const show = () => {
      if (!Number.isFinite(audio.duration) || audio.duration <= 0) return false;
      shown.querySelector(".voice-time").textContent = clock(Math.max(1, audio.duration));
      shown.hidden = false;
      return true;
    };
    const measure = () => {
      if (show() || audio.duration !== Infinity) return;
      // A recording whose header has no length: the browser finds it by seeking past the end.
      const found = () => {
        if (!show()) return;
        audio.removeEventListener("durationchange", found);
        audio.currentTime = 0;
      };
      audio.addEventListener("durationchange", found);
      audio.currentTime = 1e7;
    };
    if (audio.readyState >= 1) measure();
    else audio.addEventListener("loadedmetadata", measure, { once: true });
  });

  const types = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/mp4", "audio/webm"];
  const extensions = { "audio/ogg": "ogg", "audio/mp4": "m4a" };
  const canRecord = window.MediaRecorder && window.DataTransfer && navigator.mediaDevices && navigator.mediaDevices.getUserMedia;
  document.querySelectorAll(".voice-recorder").forEach((recorder) => {
    if (!canRecord) return;
    const form = recorder.closest("form");
    const fieldset = recorder.closest("fieldset");
    const input = fieldset.querySelector("input[type=file]");
    const fileBlock = fieldset.querySelector(".voice-file");
    const [start, stop, timer, status, review, preview, restart, discard] = [
      ".voice-start", ".voice-stop", ".voice-timer", ".voice-status", ".voice-review", ".voice-preview",
      ".voice-restart", ".voice-discard",
    ].map((selector) => recorder.querySelector(selector));
    let media = null;
    let ticking = null;
    let previewUrl = null;
    let sendAfterStop = null;
    recorder.hidden = false;
    fileBlock.hidden = true;
    const say = (text) => { status.textContent = text; };
    const clear = () => {
      input.files = new DataTransfer().files;
      if (previewUrl) URL.revokeObjectURL(previewUrl);
      previewUrl = null;
      preview.removeAttribute("src");
      review.hidden = true;
    };
    const begin = async () => {
      clear();
      let stream;
      try {
        stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      } catch (error) {
        say(recorder.dataset.denied);
        fileBlock.hidden = false;
        return;
      }
      const mimeType = types.find((type) => MediaRecorder.isTypeSupported(type));
      media = new MediaRecorder(stream, mimeType ? { mimeType } : {});
      const chunks = [];
      const started = Date.now();
      media.addEventListener("dataavailable", (event) => { if (event.data.size) chunks.push(event.data); });
      media.addEventListener("stop", () => {
        stream.getTracks().forEach((track) => track.stop());
        clearInterval(ticking);
        const seconds = (Date.now() - started) / 1000;
        const type = (media.mimeType || "audio/webm").split(";")[0];
        const now = new Date();
        const pad = (n) => String(n).padStart(2, "0");
        const stamp = `${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}-${pad(now.getHours())}${pad(now.getMinutes())}`;
        const file = new File(chunks, `${recorder.dataset.fileName}-${stamp}.${extensions[type] || "webm"}`, { type });
        const transfer = new DataTransfer();
        transfer.items.add(file);
        input.files = transfer.files;
        previewUrl = URL.createObjectURL(file);
        preview.src = previewUrl;
        review.hidden = false;
        stop.hidden = true;
        start.hidden = true;
        say(recorder.dataset.recorded.replace("{duration}", clock(Math.max(1, seconds))));
        if (sendAfterStop) {
          const submitter = sendAfterStop;
          sendAfterStop = null;
          form.requestSubmit(submitter);
        } else {
          preview.focus();
        }
      });
      media.start();
      timer.textContent = clock(0);
      timer.hidden = false;
      ticking = setInterval(() => { timer.textContent = clock((Date.now() - started) / 1000); }, 250);
      start.hidden = true;
      stop.hidden = false;
      stop.focus();
      say(recorder.dataset.recording);
    };
    start.addEventListener("click", begin);
    restart.addEventListener("click", begin);
    stop.addEventListener("click", () => { if (media && media.state !== "inactive") media.stop(); });
    discard.addEventListener("click", () => {
      clear();
      timer.hidden = true;
      start.hidden = false;
      say(recorder.dataset.discarded);
      start.focus();
    });
    // « Envoyer » while recording: the recording ends first, then goes with the reply. The
    // preview is a new page that cannot keep the recording: the person is asked first.
    form.addEventListener("submit", (event) => {
      const previewing = event.submitter && event.submitter.name === "preview";
      if (previewing && (input.files.length || (media && media.state === "recording"))) {
        if (!window.confirm(recorder.dataset.previewLoses)) event.preventDefault();
        return;
      }
      if (!media || media.state !== "recording") return;
      event.preventDefault();
      sendAfterStop = event.submitter;
      media.stop();
    });
  });
});
