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
