// nexuslims pages: a larger view of a preview on click; a dataset's metadata and a
// large record's further activities fetched when opened. Without this file, links
// lead to the same content on pages of its own.
"use strict";

function openLightbox(link) {
  let box = document.getElementById("lightbox");
  if (!box) {
    box = document.createElement("dialog");
    box.id = "lightbox";
    const img = document.createElement("img");
    const caption = document.createElement("p");
    const close = document.createElement("button");
    close.type = "button";
    close.textContent = "Close";
    close.addEventListener("click", () => box.close());
    box.addEventListener("click", (event) => { if (event.target === box) box.close(); });
    box.append(img, caption, close);
    document.body.append(box);
  }
  box.querySelector("img").src = link.href;
  box.querySelector("img").alt = link.dataset.caption || "";
  box.querySelector("p").textContent = link.dataset.caption || "";
  box.showModal();
}

async function loadMeta(details) {
  if (details.dataset.loaded || !details.open) return;
  details.dataset.loaded = "1";
  const body = details.querySelector(".meta-body");
  try {
    const response = await fetch(details.dataset.src, {credentials: "same-origin"});
    if (!response.ok) throw new Error(response.status + " " + response.statusText);
    // The server escaped every value; the fragment is our own template's HTML.
    body.innerHTML = await response.text();
  } catch (error) {
    body.textContent = "Could not load the metadata: " + error.message;
    delete details.dataset.loaded;
  }
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a.thumb");
  if (link && !event.ctrlKey && !event.metaKey && !event.shiftKey) {
    event.preventDefault();
    openLightbox(link);
  }
});

async function loadGallery(details) {
  const holder = details.querySelector(":scope > .lazy-gallery");
  if (!holder || holder.dataset.loading || !details.open) return;
  holder.dataset.loading = "1";
  try {
    const response = await fetch(holder.dataset.src, {credentials: "same-origin"});
    if (!response.ok) throw new Error(response.status + " " + response.statusText);
    holder.outerHTML = await response.text();  // our own template's escaped HTML
  } catch (error) {
    holder.append(" (could not load: " + error.message + ")");
    delete holder.dataset.loading;
  }
}

// "toggle" does not bubble: listen in the capture phase.
document.addEventListener("toggle", (event) => {
  const target = event.target;
  if (!target.matches) return;
  if (target.matches("details.meta")) loadMeta(target);
  if (target.matches("details.activity")) loadGallery(target);
}, true);
