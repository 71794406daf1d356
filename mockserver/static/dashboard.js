// The dashboard's only script: tabs, polling the view on screen, and the admin API calls.
// The server renders every view; this swaps in fresh fragments and sends changes.
"use strict";

(() => {
  const POLL_MS = 1000;
  const body = document.body;
  const admin = body.dataset.admin;
  const csrfHeader = body.dataset.csrfHeader;
  const views = [...document.querySelectorAll("main > section")].map((s) => s.id);
  let polling = null;

  function currentView() {
    const wanted = location.hash.slice(1);
    return views.includes(wanted) ? wanted : views[0];
  }

  function showView() {
    const view = currentView();
    for (const section of document.querySelectorAll("main > section")) {
      section.hidden = section.id !== view;
    }
    for (const link of document.querySelectorAll("nav a")) {
      link.classList.toggle("active", link.dataset.view === view);
    }
    refresh();
  }

  function notice(message, ok) {
    const box = document.getElementById("notice");
    box.textContent = message;
    box.classList.toggle("ok", Boolean(ok));
    box.hidden = !message;
  }

  function live(fresh) {
    document.getElementById("live").classList.toggle("stale", !fresh);
  }

  async function get(path) {
    const response = await fetch(admin + path, { cache: "no-store" });
    if (response.status === 401) {
      location.reload(); // the page then asks for the admin token
    }
    if (!response.ok) {
      throw new Error(`${path} answered ${response.status}`);
    }
    return response;
  }

  // What the user opened or closed (journal entries, state kinds), kept across swaps.
  const choices = new Map();

  function remember(event) {
    const details = event.target.closest("summary") && event.target.closest("details[data-key]");
    if (details) choices.set(details.dataset.key, !details.open); // the click toggles it
  }

  // Replace a fragment only when it changed.
  function swap(container, html) {
    if (container.dataset.html === html) {
      return;
    }
    container.innerHTML = html;
    container.dataset.html = html;
    for (const details of container.querySelectorAll("details[data-key]")) {
      if (choices.has(details.dataset.key)) details.open = choices.get(details.dataset.key);
    }
  }

  async function refresh() {
    const view = currentView();
    const container = document.querySelector(`[data-part="${view}"]`);
    try {
      const [clock, part] = await Promise.all([get("/clock"), get(`/ui/part/${view}`)]);
      document.getElementById("header-now").textContent = (await clock.json()).now;
      swap(container, await part.text());
      body.dataset.polls = String(Number(body.dataset.polls || 0) + 1); // tests wait on it
      live(true);
    } catch (error) {
      live(false);
    }
  }

  function poll() {
    clearInterval(polling);
    polling = document.hidden ? null : setInterval(refresh, POLL_MS);
  }

  async function send(method, path, payload, done) {
    const headers = { [csrfHeader]: "dashboard" };
    if (payload !== undefined) headers["Content-Type"] = "application/json";
    try {
      const response = await fetch(admin + path, {
        method, headers, body: payload === undefined ? undefined : JSON.stringify(payload),
      });
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) {
        notice(answer.message || `${method} ${path} answered ${response.status}`, false);
      } else {
        notice(done(answer), true);
      }
    } catch (error) {
      notice(`${method} ${path} failed: ${error.message}`, false);
    }
    refresh();
  }

  function advance(seconds) {
    send("POST", "/clock", { advance_seconds: seconds }, (a) => `Clock advanced to ${a.now}`);
  }

  function faultRule(form) {
    const rule = {};
    for (const [name, value] of new FormData(form)) {
      if (value === "") continue;
      rule[name] = ["api", "operation"].includes(name) ? value : Number(value);
    }
    return rule;
  }

  function filterOperations() {
    const api = document.getElementById("fault-api").value;
    const select = document.getElementById("fault-operation");
    for (const group of select.querySelectorAll("optgroup")) {
      group.hidden = api !== "" && group.dataset.api !== api;
    }
    const chosen = select.selectedOptions[0];
    if (chosen && chosen.dataset.api && api && chosen.dataset.api !== api) select.value = "";
  }

  function wire() {
    document.getElementById("reset").addEventListener("click", () =>
      send("POST", "/reset", undefined, () => "Reset: state back to the fixtures, faults and journal cleared"));
    document.getElementById("advance-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const amount = Number(document.getElementById("advance-amount").value);
      advance(amount * Number(document.getElementById("advance-unit").value));
    });
    for (const button of document.querySelectorAll("[data-advance]")) {
      button.addEventListener("click", () => advance(Number(button.dataset.advance)));
    }
    document.getElementById("set-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const now = document.getElementById("set-now").value.trim();
      send("POST", "/clock", { now }, (a) => `Clock set to ${a.now}`);
    });
    document.getElementById("fault-api").addEventListener("change", filterOperations);
    document.getElementById("fault-form").addEventListener("submit", (event) => {
      event.preventDefault();
      send("POST", "/faults", faultRule(event.target), (a) => `Fault rule ${a.id} added`);
    });
    document.getElementById("clear-faults").addEventListener("click", () =>
      send("DELETE", "/faults", undefined, () => "Fault rules cleared"));
    document.querySelector("main").addEventListener("click", remember);
    window.addEventListener("hashchange", showView);
    document.addEventListener("visibilitychange", poll);
  }

  wire();
  showView();
  poll();
})();
