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
