// The family web chat: sends what the family writes or presses to /chat/api/messages and shows
// the replies. No framework, no build step. Texts arrive rendered in the family's language.
"use strict";

(function () {
  const log = document.getElementById("log");
  const form = document.getElementById("say");
  const words = document.getElementById("words");
  const send = document.getElementById("send");
  const writeLabel = document.getElementById("write-label");
  const exportLink = document.getElementById("export");

  function say(text, who) {
    const item = document.createElement("li");
    item.className = who;
    const bubble = document.createElement("p");
    bubble.className = "bubble";
    bubble.dir = "auto";
    // Links in Hjulet's own messages (the child's plan) become links; everything else stays text.
    // A link in right-to-left text comes isolated (U+2066..U+2069): the marks are not part of it.
    text.split(/(https?:\/\/[^\s\u2066-\u2069]+|\/chat\/plan[^\s\u2066-\u2069]*)/).forEach(function (part, index) {
      if (index % 2 === 1 && who === "bot") {
        const link = document.createElement("a");
        link.href = part;
        link.textContent = part;
        bubble.appendChild(link);
      } else if (part) {
        bubble.appendChild(document.createTextNode(part));
      }
    });
    item.appendChild(bubble);
    log.appendChild(item);
    return item;
  }

  function closeChoices(chosen) {
    log.querySelectorAll(".choices button:not(:disabled)").forEach(function (button) {
      if (button.dataset.code === chosen) {
        button.setAttribute("aria-pressed", "true");
      }
      button.disabled = true;
    });
  }

  function show(data) {
    document.documentElement.lang = data.lang;
    document.documentElement.dir = data.dir;
    writeLabel.textContent = data.labels.write;
    send.textContent = data.labels.send;
    exportLink.textContent = data.labels.export;
    log.setAttribute("aria-label", data.labels.log);
    data.replies.forEach(function (reply) {
      if (reply.kind === "answered") {
        return;  // the question was answered: its buttons are closed when pressed
      }
      if (reply.kind === "wheel") {
        showWheel(reply.text);
        return;
      }
      const item = say(reply.text, "bot");
      if (reply.buttons.length) {
        closeChoices(null);
        const choices = document.createElement("ul");
        choices.className = "choices";
        const question = reply.step ? [reply.flow || "", reply.step] : null;
        reply.buttons.forEach(function (pair) {
          const entry = document.createElement("li");
          const button = document.createElement("button");
          button.type = "button";
          button.dataset.code = pair[0];
          button.textContent = pair[1];
          button.addEventListener("click", function () { press(pair[0], pair[1], question); });
          entry.appendChild(button);
          choices.appendChild(entry);
        });
        item.appendChild(choices);
      }
    });
    scrollToEnd();
  }

  // The family's wheel: an SVG made by the server from their answers, in their language.
  function showWheel(title) {
    const item = document.createElement("li");
    item.className = "bot";
    const figure = document.createElement("figure");
    figure.className = "wheel";
    item.appendChild(figure);
    log.appendChild(item);
    fetch("/chat/api/wheel", { credentials: "same-origin" }).then(function (response) {
      return response.ok ? response.text() : "";
    }).then(function (text) {
      const svg = new DOMParser().parseFromString(text, "image/svg+xml").documentElement;
      if (svg && svg.nodeName === "svg") {
        figure.appendChild(document.importNode(svg, true));
      } else {
        figure.textContent = title;
      }
    });
  }

  function scrollToEnd() {
    const last = log.lastElementChild;
    if (last) {
      last.scrollIntoView({ block: "end" });
    }
  }

  // One request at a time, in the order the family acted (a press while a reply is on its way waits).
  let queue = Promise.resolve();
  function post(body, echo) {
    queue = queue.then(async function () {
      if (echo) {  // shown when it is sent, so it stands after the replies it answers
        if (!body.choice) {
          closeChoices(null);
        }
        say(echo, "you");
      }
      const response = await fetch("/chat/api/messages", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        credentials: "same-origin",
        body: JSON.stringify(body),
      });
      // A 503 (the database is away for a moment) comes with the same shape: a reply that says so.
      const data = await response.json().catch(function () { return null; });
      if (data && data.replies) {
        show(data);
        if (data.retry && body.text && !words.value) {
          words.value = body.text;  // not stored: the words wait in the field to be sent again
        }
      }
    }).catch(function () { /* the next message tries again */ });
    return queue;
  }

  function press(code, label, question) {
    closeChoices(code);  // at once: a second tap cannot answer the next question by mistake
    post({ choice: code, question: question }, label);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const text = words.value.trim();
    if (!text) {
      return;
    }
    words.value = "";
    post({ text: text }, text);
    words.focus();
  });

  // A message from the named person may come while the page is open: ask for it now and then.
  function poll() {
    if (document.visibilityState !== "visible") {
      return;
    }
    queue = queue.then(async function () {
      const response = await fetch("/chat/api/waiting", { credentials: "same-origin" });
      if (response.ok) {
        const data = await response.json();
        if (data.replies.length) {
          show({ lang: document.documentElement.lang, dir: document.documentElement.dir,
                 labels: { write: writeLabel.textContent, send: send.textContent,
                           log: log.getAttribute("aria-label"), export: exportLink.textContent },
                 replies: data.replies });
        }
      }
    }).catch(function () { /* asked again later */ });
  }

  const invite = new URLSearchParams(window.location.search).get("invite");
  post({ start: true, invite: invite });
  window.setInterval(poll, 20000);
})();
