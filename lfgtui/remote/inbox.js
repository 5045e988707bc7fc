
"use strict";
// The inbox page: lfgtui/remote/inbox.py says what it shows and why it is built so. Every string
// from the server goes into the page as text (textContent), never as markup. Each item and each open
// request is drawn on its own: one the page cannot draw is a row saying so, and the rest is shown.

const TOKEN_KEY = "lfg-inbox-token";
const PAUSE_MS = 1000; // between two snapshots: a run that streams is redrawn once a second
const RETRY_MS = 3000;
const SECTIONS = [["needs-you", "needs_you", "Needs you", true], ["unread", "unread", "Done, unread", true],
  ["rest", "rest", "The rest", false]];
const DETAILED = new Set(["asked", "failed", "cancelled"]);
const cards = new Map(); // ticket -> its element and parts, kept across snapshots (a follow-up being typed stays)
let token = null;
let version = null;
let following = 0; // counts the starts: a loop of an earlier start (an earlier token) stops

// How each kind of open request is shown and answered.
const REQUESTS = { approval: showApproval, elicitation: showQuestion };

const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function say(text) {
  $("status").textContent = text;
}

function age(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return s + " s";
  const m = Math.floor(s / 60);
  return m < 60 ? m + " min" : Math.floor(m / 60) + " h " + (m % 60) + " min";
}

function aged(node, seconds) {
  node.dataset.waited = seconds;
  node.dataset.at = performance.now();
  node.textContent = age(seconds);
}

function tick() {
  for (const node of document.querySelectorAll("[data-waited]")) {
    node.textContent = age(Number(node.dataset.waited) + (performance.now() - Number(node.dataset.at)) / 1000);
  }
}

function takeToken() {
  const given = new URLSearchParams(location.hash.slice(1)).get("token");
  if (given) {
    sessionStorage.setItem(TOKEN_KEY, given);
    history.replaceState(null, "", location.pathname); // out of the address bar, and of what is shared
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

function askToken(why) {
  sessionStorage.removeItem(TOKEN_KEY);
  token = null;
  following += 1;
  $("inbox").hidden = true;
  $("login").hidden = false;
  $("login-why").textContent = why;
  say("needs the token");
}

function headers(extra) {
  return Object.assign({ Authorization: "Bearer " + token, "LFG-Watcher": "inbox" }, extra);
}

function start(given) {
  token = given;
  version = null;
  following += 1;
  say("connecting…");
  follow(following);
}

async function follow(mine) {
  while (mine === following) {
    let snapshot;
    try {
      const answer = await fetch(version === null ? "/v1/inbox" : "/v1/inbox?after=" + version,
        { headers: headers({}), cache: "no-store" });
      if (mine !== following) return;
      if (answer.status === 401) {
        askToken("The run refused this token.");
        return;
      }
      if (!answer.ok) throw new Error("the run answered " + answer.status);
      snapshot = await answer.json();
    } catch (error) {
      if (mine !== following) return;
      say("cannot reach the run (" + error.message + "): trying again…");
      await sleep(RETRY_MS);
      continue;
    }
    if (mine !== following) return;
    try {
      show(snapshot);
    } catch (error) {
      say("cannot show what the run sent (" + reason(error) + "): trying again…");
      version = null;
      await sleep(RETRY_MS);
      continue;
    }
    if (snapshot.ended) {
      say("the run has ended");
      return;
    }
    say(snapshot.control ? "live" : "live, read-only (served without --control)");
    await sleep(PAUSE_MS);
  }
}

function show(snapshot) {
  version = snapshot.version;
  $("login").hidden = true;
  $("inbox").hidden = false;
  const seen = new Set();
  for (const [id, field, heading, full] of SECTIONS) {
    const items = snapshot[field];
    const section = $(id);
    section.querySelector("h2").textContent = items.length ? heading + " (" + items.length + ")" : heading;
    const list = section.querySelector("ol");
    items.forEach((item, index) => {
      const node = drawn(item, full);
      seen.add(node.dataset.ticket);
      if (list.children[index] !== node) list.insertBefore(node, list.children[index] || null);
    });
  }
  for (const [ticket, entry] of cards) {
    if (!seen.has(ticket)) {
      entry.node.remove();
      cards.delete(ticket);
    }
  }
  $("new-ticket").hidden = !snapshot.control || snapshot.ended;
  const waiting = snapshot.needs_you.length;
  document.title = (waiting ? waiting + " need you · " : "") + "lfg inbox";
}

function reason(error) {
  return String((error && error.message) || error);
}

// One item of the snapshot as its card or row; an item this page cannot draw (a value of a kind it
// does not expect) becomes an inert row saying so, and the rest of the inbox is still shown.
function drawn(item, full) {
  try {
    return card(item, full);
  } catch (error) {
    const ticket = item !== null && typeof item === "object" && typeof item.ticket === "string" ? item.ticket : "";
    const old = cards.get(ticket);
    if (old !== undefined) old.node.remove();
    const node = el("li", "row broken");
    node.dataset.ticket = ticket;
    node.append(el("span", "id", ticket), " ", el("span", "note problem", "this request could not be shown here ("
      + reason(error) + "): answer it in lfg"));
    cards.set(ticket, { node, parts: null, full: null }); // drawn again, as a card, by the next snapshot
    return node;
  }
}

// One open request as its kind is shown; one this page cannot draw says so, and the card's others are shown.
function requestNode(item, asked) {
  try {
    return (REQUESTS[asked.kind] || unknown)(item, asked);
  } catch (error) {
    return el("p", "request note problem", "this request could not be shown here (" + reason(error) + "): answer it in lfg");
  }
}

function card(item, full) {
  let entry = cards.get(item.ticket);
  if (entry === undefined || entry.full !== full) {
    if (entry !== undefined) entry.node.remove();
    entry = full ? fullCard(item.ticket) : row(item.ticket);
    cards.set(item.ticket, entry);
  }
  const p = entry.parts;
  entry.node.className = (full ? "card " : "row ") + item.state;
  p.title.textContent = item.title && item.title !== item.ticket ? item.title : "";
  p.badge.textContent = item.label;
  aged(p.age, item.waited_s);
  p.provider.textContent = item.provider ? " · " + item.provider : "";
  p.detail.textContent = DETAILED.has(item.state) && item.detail !== item.label ? item.detail : "";
  p.detail.hidden = p.detail.textContent === "";
  p.form.hidden = !item.follow_up;
  p.subagents.textContent = subagentsLine(item.subagents);
  p.subagents.hidden = p.subagents.textContent === "";
  showHeld(entry, item);
  const compose = p.compose;
  compose.ticket = item.ticket;
  compose.form.hidden = !item.compose;
  if (item.compose && !compose.chosen) compose.mode.value = item.compose;
  compose.words = item.compose_says || {};
  compose.says.textContent = composeSays(compose);
  if (full) {
    const calls = item.requests.map((asked) => asked.kind + ":" + asked.call).join(" ");
    if (calls !== entry.calls) {
      entry.calls = calls;
      p.requests.replaceChildren(...item.requests.map((asked) => requestNode(item, asked)));
    }
    p.answer.textContent = item.answer;
    p.answer.hidden = p.said.hidden = item.answer === "";
  }
  return entry.node;
}

// A ticket's sub-agents as one line: how many, then how many in each state ("" for none).
function subagentsLine(states) {
  if (states === undefined || !(states.count > 0)) return "";
  const each = Object.keys(states).filter((state) => state !== "count").sort()
    .map((state) => states[state] + " " + state);
  return "sub-agents: " + states.count + (each.length ? " (" + each.join(", ") + ")" : "");
}

function parts(ticket) {
  return {
    id: el("span", "id", ticket), title: el("span", "title"), badge: el("span", "badge"), age: el("span", "age"),
    provider: el("span", "provider"), detail: el("p", "detail"), form: followUpForm(ticket),
    subagents: el("p", "subagents"), held: el("ol", "held"), heldNote: el("p", "note"), heldCount: el("span", "held-count"),
    compose: composer(ticket),
  };
}

// What a running ticket holds, in the order it goes (lfgtui/remote/inbox.py `held`): a steer waiting
// for its safe point, then each queued turn, each numbered by its id (`#3`, as the pane, the API's
// `held` and `edit-held` name it), editable and removable until it is sent.
// Each message keeps its node across snapshots (by its id), so an edit being typed stays.
function showHeld(entry, item) {
  const p = entry.parts;
  const nodes = entry.held || (entry.held = new Map());
  const seen = new Set();
  item.held.forEach((message, index) => {
    let held = nodes.get(message.id);
    if (held === undefined) {
      held = heldNode(item.ticket, message.id, p.heldNote);
      nodes.set(message.id, held);
    }
    seen.add(message.id);
    held.message = message;
    held.label.textContent = "#" + message.id + (message.steer ? " ⧗ steer from " : " queued from ") + message.by + ": ";
    if (!held.editing) held.text.textContent = message.text;
    held.buttons.hidden = !item.compose; // a run served read-only shows what is held, and changes nothing
    if (p.held.children[index] !== held.node) p.held.insertBefore(held.node, p.held.children[index] || null);
  });
  for (const [id, held] of nodes) {
    if (seen.has(id)) continue;
    if (held.editing) {
      p.heldNote.className = "note problem";
      p.heldNote.textContent = "Not saved: that message was sent, or taken back, before your edit";
    }
    held.node.remove();
    nodes.delete(id);
  }
  p.held.hidden = item.held.length === 0;
  p.heldCount.textContent = item.held.length ? " · " + item.held.length + " held" : "";
}

function heldNode(ticket, id, note) {
  const node = el("li", "held-message");
  const label = el("span", "key");
  const text = el("span", "held-text");
  const edit = el("button", "", "Edit");
  const remove = el("button", "deny", "Remove");
  edit.type = remove.type = "button";
  const buttons = el("div", "buttons");
  buttons.append(edit, remove);
  const form = el("form", "held-edit");
  const input = wordsInput(form);
  input.setAttribute("aria-label", "edit held message of " + ticket);
  const save = el("button", "approve", "Save");
  save.type = "submit";
  form.append(input, save);
  form.hidden = true;
  node.append(label, text, buttons, form);
  const held = { node, label, text, buttons, editing: false, message: null };
  const controls = [edit, remove, input, save];
  edit.addEventListener("click", () => {
    held.editing = true;
    input.value = held.message.text;
    form.hidden = false;
    input.focus();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!input.value.trim()) return;
    const body = JSON.stringify({ request: "edit-held", ticket, held: id, text: input.value });
    if (await act("/v1/requests", body, controls, note, "application/json")) {
      held.editing = false;
      form.hidden = true;
      text.textContent = input.value;
      for (const control of controls) control.disabled = false;
    }
  });
  remove.addEventListener("click", () => {
    held.editing = false;
    act("/v1/requests", JSON.stringify({ request: "remove-held", ticket, held: id }), controls, note,
      "application/json");
  });
  return held;
}

// Words for a running ticket: a textarea, since a one-line input drops the line breaks of what is
// pasted or put in it to edit; Enter sends, as in the TUI's composer, and Shift+Enter starts a line.
function wordsInput(form) {
  const area = el("textarea", "words");
  area.rows = 2;
  area.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  return area;
}

// A running ticket's composer: steer its turn, or queue its next, as a request (`POST /v1/requests`);
// its first line says what Enter does before anything is sent, as the TUI's composer does.
function composer(ticket) {
  const form = el("form", "compose");
  const says = el("p", "says");
  const mode = el("select");
  mode.setAttribute("aria-label", "steer or queue");
  for (const [value, title] of [["steer", "Steer this turn"], ["queue", "Queue as its next turn"]]) {
    const option = el("option", "", title);
    option.value = value;
    mode.append(option);
  }
  const input = wordsInput(form);
  input.placeholder = "your words for " + ticket;
  input.setAttribute("aria-label", "steer or queue for " + ticket);
  const send = el("button", "", "Send");
  send.type = "submit";
  const note = el("p", "note");
  form.append(says, mode, input, send, note);
  form.hidden = true;
  const compose = { form, says, mode, ticket, words: {}, chosen: false };
  mode.addEventListener("change", () => {
    compose.chosen = true;
    says.textContent = composeSays(compose);
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!input.value.trim()) return;
    const body = JSON.stringify({ request: mode.value, ticket, text: input.value });
    if (await act("/v1/requests", body, [mode, input, send], note, "application/json")) {
      input.value = "";
      mode.disabled = input.disabled = send.disabled = false;
    }
  });
  return compose;
}

// What Enter does, in the run's own words for the mode chosen (`compose_says`: run/steer_words.py).
function composeSays(compose) {
  return compose.words[compose.mode.value] || "";
}

function fullCard(ticket) {
  const p = parts(ticket);
  p.requests = el("div", "requests");
  p.said = el("div", "key", "the end of its answer");
  p.answer = el("pre", "answer");
  const head = el("div", "head");
  head.append(p.id, p.title);
  const meta = el("div", "meta");
  meta.append(p.badge, " · ", p.age, p.provider, p.heldCount);
  const node = el("li");
  node.dataset.ticket = ticket;
  node.append(head, meta, p.subagents, p.detail, p.said, p.answer, p.held, p.heldNote, p.requests, p.compose.form,
    p.form);
  return { node, parts: p, full: true, calls: "" };
}

function row(ticket) {
  const p = parts(ticket);
  const line = el("summary", "line");
  line.append(p.id, " ", p.badge, " · ", p.age, p.heldCount);
  const details = el("details");
  const sub = el("div", "sub");
  sub.append(p.title, p.provider);
  details.append(line, sub, p.subagents, p.detail, p.held, p.heldNote, p.compose.form, p.form);
  const node = el("li");
  node.dataset.ticket = ticket;
  node.append(details);
  return { node, parts: p, full: false };
}

function showApproval(item, request) {
  const box = el("div", "request");
  const asks = el("p", "asks", "approve " + request.tool + "? · waiting ");
  const waited = el("span");
  aged(waited, request.waited_s);
  asks.append(waited);
  box.append(asks);
  for (const field of request.fields) {
    const key = el("div", "key", field.key);
    key.style.paddingLeft = field.depth + "rem";
    box.append(key);
    if (field.text !== "") box.append(field.diff ? diff(field.text) : el("pre", "value", field.text));
  }
  if (!request.answerable) return box;
  const path = "/v1/tickets/" + encodeURIComponent(item.ticket) + "/calls/" + encodeURIComponent(request.call) + "/";
  const yes = el("button", "approve", "Approve");
  const no = el("button", "deny", "Deny");
  const note = el("p", "note");
  yes.type = no.type = "button";
  yes.addEventListener("click", () => act(path + "approve", undefined, [yes, no], note));
  no.addEventListener("click", () => act(path + "deny", undefined, [yes, no], note));
  const buttons = el("div", "buttons");
  buttons.append(yes, no);
  box.append(buttons, note);
  return box;
}

// An agent's question as a form: an input per field (lfgtui/remote/inbox.py `question`), answered with
// Send (ACP's accept, the values typed as the schema says), Decline or Cancel. The agent checks the
// values against its schema too.
function showQuestion(item, request) {
  const box = el("div", "request");
  const asks = el("p", "asks", "asks you · waiting ");
  const waited = el("span");
  aged(waited, request.waited_s);
  asks.append(waited);
  box.append(asks);
  if (request.question !== item.detail) box.append(el("p", "question", request.question)); // the card says it already
  if (request.title) box.append(el("div", "key", request.title));
  if (request.description) box.append(el("p", "hint", request.description));
  const inputs = request.fields.map((field) => formInput(field));
  for (const input of inputs) box.append(input.node);
  for (const problem of request.problems) box.append(el("p", "note problem", problem));
  if (!request.control) return box;
  const path = "/v1/tickets/" + encodeURIComponent(item.ticket) + "/elicitations/" + encodeURIComponent(request.call) + "/";
  const send = el("button", "approve", "Send");
  const decline = el("button", "deny", "Decline");
  const cancel = el("button", "", "Cancel");
  const note = el("p", "note");
  const controls = [send, decline, cancel];
  for (const button of controls) button.type = "button";
  send.disabled = !request.answerable;
  send.addEventListener("click", () => {
    const content = {};
    const wrong = [];
    for (const input of inputs) input.take(content, wrong);
    if (wrong.length) {
      note.className = "note problem";
      note.textContent = "Not sent: " + wrong.join("; ");
      return;
    }
    act(path + "accept", JSON.stringify({ content }), controls, note, "application/json");
  });
  decline.addEventListener("click", () => act(path + "decline", undefined, controls, note));
  cancel.addEventListener("click", () => act(path + "cancel", undefined, controls, note));
  const buttons = el("div", "buttons");
  buttons.append(send, decline, cancel);
  box.append(buttons, note);
  return box;
}

// One field's label and input; `take` adds its value to the content, or what is wrong to `wrong`.
function formInput(field) {
  const node = el("label", "field");
  node.append(el("span", "key", field.label + (field.required ? " (required)" : "")));
  const hint = [field.description, field.bounds].filter(Boolean).join(" · ");
  if (hint) node.append(el("span", "hint", hint));
  const missing = (wrong) => field.required && wrong.push(field.label + ": required");
  if (field.problem) {
    node.append(el("span", "note problem", field.problem));
    return { node, take: () => {} };
  }
  if (field.kind === "boolean") {
    const box = el("input");
    box.type = "checkbox";
    box.checked = field.default === true;
    node.append(box);
    return { node, take: (content) => { content[field.name] = box.checked; } };
  }
  if (field.kind === "choices") {
    const boxes = field.choices.map((choice) => {
      const option = el("label", "choice");
      const box = el("input");
      box.type = "checkbox";
      box.value = choice.value;
      option.append(box, " " + choice.title);
      node.append(option);
      return box;
    });
    return {
      node, take: (content, wrong) => {
        const chosen = boxes.filter((box) => box.checked).map((box) => box.value);
        if (chosen.length) content[field.name] = chosen;
        else missing(wrong);
      },
    };
  }
  let input;
  if (field.kind === "choice") {
    input = el("select");
    input.append(el("option", "", "—"));
    for (const choice of field.choices) {
      const option = el("option", "", choice.title);
      option.value = choice.value;
      input.append(option);
    }
    input.value = typeof field.default === "string" ? field.default : "";
  } else {
    input = el("input");
    input.type = "text";
    if (field.kind !== "string") input.inputMode = field.kind === "integer" ? "numeric" : "decimal";
    if (field.max_length !== null) input.maxLength = field.max_length;
    if (field.default !== null && typeof field.default !== "boolean") input.value = String(field.default);
  }
  input.setAttribute("aria-label", field.label);
  node.append(input);
  return {
    node, take: (content, wrong) => {
      const text = input.value;
      if (text.trim() === "") return missing(wrong);
      if (field.kind !== "number" && field.kind !== "integer") {
        content[field.name] = text;
        return;
      }
      const number = Number(text.trim());
      if (!Number.isFinite(number)) wrong.push(field.label + ": a number");
      else if (field.kind === "integer" && !Number.isInteger(number)) wrong.push(field.label + ": a whole number");
      else content[field.name] = number;
    },
  };
}

function unknown(item, request) {
  return el("p", "request note", "a request of a kind this page cannot answer (" + request.kind + "): answer it in lfg");
}

function diff(text) {
  const pre = el("pre", "value diff");
  for (const line of text.split("\n")) {
    let kind = "";
    if (line.startsWith("@@")) kind = "hunk";
    else if (line.startsWith("+") && !line.startsWith("+++")) kind = "add";
    else if (line.startsWith("-") && !line.startsWith("---")) kind = "del";
    pre.append(el("span", kind, line + "\n"));
  }
  return pre;
}

function followUpForm(ticket) {
  const form = el("form", "follow-up");
  const text = el("textarea");
  text.placeholder = "A follow-up to " + ticket;
  text.setAttribute("aria-label", "follow-up to " + ticket);
  const send = el("button", "", "Send follow-up");
  send.type = "submit";
  const note = el("p", "note");
  form.append(text, send, note);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!text.value.trim()) return;
    const path = "/v1/tickets/" + encodeURIComponent(ticket) + "/follow-up";
    if (await act(path, text.value, [text, send], note)) {
      text.value = "";
      text.disabled = send.disabled = false;
    }
  });
  return form;
}

async function act(path, body, controls, note, type = "text/plain; charset=utf-8") {
  for (const control of controls) control.disabled = true;
  note.className = "note";
  note.textContent = "sending…";
  let why;
  try {
    const extra = body === undefined ? {} : { "Content-Type": type };
    const answer = await fetch(path, { method: "POST", headers: headers(extra), body, cache: "no-store" });
    if (answer.status === 401) {
      askToken("The run refused this token.");
      return false;
    }
    if (answer.ok) {
      let answered = {};
      try {
        answered = (await answer.json()) || {};
      } catch (error) {
        // no words: it was sent
      }
      // a steer's or queued message's words (how the run took it), or the id of the ticket it added
      const added = typeof answered.ticket === "string" ? answered.ticket + " added to the run" : "";
      note.textContent = (typeof answered.said === "string" && answered.said) || added || "sent";
      return true;
    }
    why = "the run answered " + answer.status;
    try {
      why = (await answer.json()).error || why;
    } catch (error) {
      // not JSON: the status says it
    }
  } catch (error) {
    why = "cannot reach the run (" + error.message + ")";
  }
  note.className = "note problem";
  note.textContent = why;
  for (const control of controls) control.disabled = false;
  return false;
}

// A new ticket for the run (`add-ticket`): its prompt, and its provider and model where the run's
// defaults are not wanted; what the run refuses is said under the form in its words, what is typed kept.
$("add-ticket").addEventListener("submit", async (event) => {
  event.preventDefault();
  const prompt = $("new-prompt").value;
  if (!prompt.trim()) return;
  const ticket = { prompt };
  for (const field of ["provider", "model"]) {
    const value = $("new-" + field).value.trim();
    if (value) ticket[field] = value;
  }
  const controls = [$("new-prompt"), $("new-provider"), $("new-model"), $("new-add")];
  const body = JSON.stringify({ request: "add-ticket", ticket });
  if (await act("/v1/requests", body, controls, $("new-ticket-note"), "application/json")) {
    $("new-prompt").value = "";
    for (const control of controls) control.disabled = false;
  }
});

$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  const given = $("token").value.trim();
  if (!given) return;
  sessionStorage.setItem(TOKEN_KEY, given);
  $("token").value = "";
  start(given);
});

window.addEventListener("hashchange", () => {
  const given = takeToken();
  if (given !== null && given !== token) start(given);
});

const given = takeToken();
if (given === null) {
  askToken("Open the address lfg printed (…/inbox#token=…), or give the token here.");
} else {
  start(given);
}
setInterval(tick, 10000);
