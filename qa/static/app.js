// Chat page for the qa service: no build step, no dependencies.
// The server is stateless, so the page keeps the conversation and sends all of it with every question.
"use strict";

const KEY_STORAGE = "qa.apiKey";
const MARKER = /\[(\d+)\]/g;

const $ = (id) => document.getElementById(id);
const ui = {
  log: $("log"), empty: $("empty"), form: $("ask"), question: $("question"), send: $("send"),
  status: $("status"), apiKey: $("api-key"), settings: $("settings"), newChat: $("new-chat"),
  source: $("source"), sourceTitle: $("source-title"), sourceKicker: $("source-kicker"),
  sourceParagraph: $("source-paragraph"), sourceArticle: $("source-article"), sourceText: $("source-text"),
  sourcePrev: $("source-prev"), sourceNext: $("source-next"), sourceClose: $("source-close"),
  sourceError: $("source-error"),
};

// Completed turns only: {role: "user" | "assistant", content}. A failed question is not kept.
let messages = [];
let busy = false;
let opener = null; // the marker button that opened the source panel, to return focus to
let shown = null;  // {article_id, title, paragraph} in the source panel

class HttpError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

// ---- talking to the server -------------------------------------------------------------------

function headers(extra = {}) {
  const key = ui.apiKey.value.trim();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

async function failure(response) {
  let detail = `${response.status} ${response.statusText}`.trim();
  try {
    const body = await response.json();
    if (body && body.detail) detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
  } catch (_) { /* not JSON: keep the status line */ }
  return new HttpError(response.status, detail);
}

async function postChat(history, stream) {
  return fetch("/v1/chat", {
    method: "POST",
    headers: headers({ "Content-Type": "application/json", Accept: stream ? "text/event-stream" : "application/json" }),
    body: JSON.stringify({ messages: history, stream }),
  });
}

// Yields {event, data} for each Server-Sent Event of a fetch response body.
async function* readEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
    const blocks = buffer.split(/\r?\n\r?\n/);
    buffer = done ? "" : blocks.pop();
    for (const block of blocks) {
      let event = "message";
      const data = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) yield { event, data: data.join("\n") };
    }
    if (done) return;
  }
}

// Streams the answer, calling onDelta(text) for each piece; returns the final Answer object.
async function askStreaming(history, onDelta) {
  const response = await postChat(history, true);
  if (!response.ok) throw await failure(response);
  if (!(response.headers.get("content-type") || "").includes("text/event-stream")) {
    return response.json(); // a server that does not stream answers in one piece
  }
  for await (const { event, data } of readEvents(response)) {
    if (event === "delta") onDelta(JSON.parse(data).text || "");
    else if (event === "done") return JSON.parse(data);
    else if (event === "error") {
      const body = JSON.parse(data);
      throw new HttpError(body.status || 500, body.detail || "the answer stream failed");
    }
  }
  throw new Error("the answer stream ended before the answer was complete");
}

async function askOnce(history) {
  const response = await postChat(history, false);
  if (!response.ok) throw await failure(response);
  return response.json();
}

// A request the server refused (bad question, missing key) would be refused again; anything else
// that goes wrong while streaming (proxy buffering, dropped connection) gets one plain retry.
async function ask(history, onDelta) {
  try {
    return await askStreaming(history, onDelta);
  } catch (error) {
    if (error instanceof HttpError && error.status >= 400 && error.status < 500) throw error;
    onDelta(null);
    return askOnce(history);
  }
}

// ---- the conversation ------------------------------------------------------------------------

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function addTurn(role, label) {
  ui.empty.hidden = true;
  const turn = element("article", `turn ${role}`);
  turn.append(element("h2", "who", label));
  ui.log.append(turn);
  return turn;
}

function scrollToEnd() {
  ui.log.scrollTop = ui.log.scrollHeight;
}

// Answer text with each [n] that has a citation turned into a button opening that citation.
function renderAnswerText(container, answer) {
  container.replaceChildren();
  const byMarker = new Map((answer.citations || []).map((c) => [String(c.marker), c]));
  let last = 0;
  for (const match of answer.answer.matchAll(MARKER)) {
    const citation = byMarker.get(match[1]);
    if (!citation) continue;
    container.append(answer.answer.slice(last, match.index));
    container.append(markerButton(citation));
    last = match.index + match[0].length;
  }
  container.append(answer.answer.slice(last));
}

function markerButton(citation) {
  const button = element("button", "marker", `[${citation.marker}]`);
  button.type = "button";
  button.setAttribute("aria-label", `Source ${citation.marker}: ${citation.title}, paragraph ${citation.paragraph}`);
  button.title = `${citation.title}, paragraph ${citation.paragraph}`;
  button.addEventListener("click", () => openCitation(citation, button));
  return button;
}

function renderSources(turn, answer) {
  const citations = answer.citations || [];
  if (!citations.length) return;
  const list = element("ol", "sources");
  list.setAttribute("aria-label", "Sources");
  for (const citation of citations) {
    const item = element("li");
    const button = markerButton(citation);
    item.append(button, " ", element("span", "source-name", citation.title),
      element("span", "source-para", ` · paragraph ${citation.paragraph}`));
    list.append(item);
  }
  turn.append(list);
}

// A refusal still points at the sentences nearest the question, for the reader to judge.
function renderNearest(turn, answer) {
  const passages = answer.nearest || [];
  if (!passages.length) return;
  turn.append(element("p", "nearest-note", "Closest passages (none clearly answers the question):"));
  const list = element("ol", "sources nearest");
  list.setAttribute("aria-label", "Closest passages");
  for (const passage of passages) {
    const item = element("li");
    const button = element("button", "marker", `¶${passage.paragraph}`);
    button.type = "button";
    button.setAttribute("aria-label", `Closest passage: ${passage.title}, paragraph ${passage.paragraph}`);
    button.addEventListener("click", () => openSource(passage, button, "Closest passage"));
    item.append(button, " ", element("q", "nearest-quote", passage.quote),
      element("span", "source-para", ` · ${passage.article_id}, paragraph ${passage.paragraph}`));
    list.append(item);
  }
  turn.append(list);
}

function renderAnswer(turn, body, answer) {
  turn.classList.toggle("refusal", answer.answerable === false);
  if (answer.answerable === false) {
    turn.querySelector(".who").textContent = "Not in the archive";
    body.setAttribute("data-answerable", "false");
  }
  renderShortAnswer(body, answer);
  renderAnswerText(body, answer);
  renderSources(turn, answer);
  renderNearest(turn, answer);
}

// The phrase that answers a who / when / where / how-many question leads, above the cited sentences.
function renderShortAnswer(body, answer) {
  const short = answer.short_answer;
  const previous = body.parentElement && body.parentElement.querySelector(".short-answer");
  if (previous) previous.remove();
  if (!short || answer.answerable === false) return;
  const lead = element("p", "short-answer");
  lead.append(element("strong", "", short.text));
  body.before(lead);
}

async function submitQuestion(text) {
  const question = text.trim();
  if (!question || busy) return;
  busy = true;
  ui.send.disabled = true;
  ui.status.textContent = "";
  ui.status.classList.remove("error");

  const asked = addTurn("user", "You");
  asked.append(element("p", "text", question));
  const history = [...messages, { role: "user", content: question }];
  const turn = addTurn("assistant", "Answer");
  const body = element("p", "text streaming");
  turn.append(body);
  turn.setAttribute("aria-busy", "true");
  body.append(element("span", "thinking", "Searching the archive…"));
  ui.question.value = "";
  scrollToEnd();

  let streamed = "";
  try {
    const answer = await ask(history, (piece) => {
      streamed = piece === null ? "" : streamed + piece; // null: the stream failed, start over
      body.textContent = streamed || "Searching the archive…";
      scrollToEnd();
    });
    body.classList.remove("streaming");
    renderAnswer(turn, body, answer);
    messages = [...history, { role: "assistant", content: answer.answer }];
  } catch (error) {
    // the question goes back in the box, to be asked again once the problem is fixed
    turn.remove();
    asked.remove();
    ui.empty.hidden = messages.length > 0;
    ui.question.value = question;
    showStatus(error);
  } finally {
    turn.removeAttribute("aria-busy");
    busy = false;
    ui.send.disabled = false;
    if (document.activeElement !== ui.apiKey) ui.question.focus();
    scrollToEnd();
  }
}

function showStatus(error) {
  ui.status.classList.add("error");
  if (error instanceof HttpError && error.status === 401) {
    ui.status.textContent = "The server needs an API key: enter it under Settings, then ask again.";
    ui.settings.open = true;
    ui.apiKey.focus();
    return;
  }
  ui.status.textContent = error instanceof TypeError ? "The server cannot be reached." : error.message;
}

function newConversation() {
  messages = [];
  for (const turn of ui.log.querySelectorAll(".turn")) turn.remove();
  ui.empty.hidden = false;
  ui.status.textContent = "";
  closeSource();
  ui.question.focus();
}

// ---- the source panel ------------------------------------------------------------------------

// Where the quote sits in the paragraph: the citation's offsets when they hold the quote, else a search.
function quoteSpan(text, quote, start, end) {
  if (Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start < end && end <= text.length) {
    if (!quote || text.slice(start, end).trim() === quote.trim()) return [start, end];
  }
  if (!quote) return null;
  const at = text.indexOf(quote.trim());
  return at >= 0 ? [at, at + quote.trim().length] : null;
}

function showParagraph({ article_id, title, paragraph, text, quote = "", start = -1, end = -1 }, kicker) {
  shown = { article_id, title, paragraph };
  ui.sourceKicker.textContent = kicker;
  ui.sourceTitle.textContent = title;
  ui.sourceParagraph.textContent = `paragraph ${paragraph}`;
  ui.sourceArticle.textContent = article_id;
  ui.sourceText.replaceChildren();
  const span = quoteSpan(text, quote, start, end);
  if (span) {
    const mark = element("mark", "", text.slice(span[0], span[1]));
    ui.sourceText.append(text.slice(0, span[0]), mark, text.slice(span[1]));
  } else {
    ui.sourceText.append(text);
  }
  ui.sourcePrev.disabled = paragraph <= 1;
  ui.sourceNext.disabled = false;
  ui.sourceError.textContent = "";
}

function openCitation(citation, button) {
  openSource(citation, button, `Source [${citation.marker}]`);
}

function openSource(passage, button, kicker) {
  for (const active of document.querySelectorAll(".marker[aria-expanded]")) active.removeAttribute("aria-expanded");
  opener = button;
  button.setAttribute("aria-expanded", "true");
  button.setAttribute("aria-controls", "source");
  showParagraph(passage, kicker);
  ui.source.hidden = false;
  document.body.classList.add("with-source");
  ui.source.focus();
}

function closeSource() {
  if (ui.source.hidden) return;
  ui.source.hidden = true;
  document.body.classList.remove("with-source");
  if (opener && opener.isConnected) {
    opener.removeAttribute("aria-expanded");
    opener.focus();
  }
  opener = null;
}

// Neighbouring paragraphs, for context around a quote.
async function step(offset) {
  if (!shown) return;
  const number = shown.paragraph + offset;
  if (number < 1) return;
  const id = encodeURIComponent(shown.article_id);
  try {
    const response = await fetch(`/v1/articles/${id}/paragraphs/${number}`, { headers: headers() });
    if (!response.ok) {
      if (response.status === 404 || response.status === 422) {
        if (offset > 0) ui.sourceNext.disabled = true;
        ui.sourceError.textContent = offset > 0 ? "That was the last paragraph." : "That was the first paragraph.";
        return;
      }
      throw await failure(response);
    }
    const body = await response.json();
    showParagraph({
      article_id: body.article_id || shown.article_id,
      title: body.title || shown.title,
      paragraph: body.paragraph || body.number || number,
      text: body.text || "",
    }, "Context");
  } catch (error) {
    ui.sourceError.textContent = `Could not load paragraph ${number}: ${error.message}`;
  }
}

// ---- wiring ----------------------------------------------------------------------------------

ui.apiKey.value = localStorage.getItem(KEY_STORAGE) || "";
ui.apiKey.addEventListener("input", () => {
  const key = ui.apiKey.value.trim();
  if (key) localStorage.setItem(KEY_STORAGE, key);
  else localStorage.removeItem(KEY_STORAGE);
});

ui.settings.querySelector("form").addEventListener("submit", (event) => event.preventDefault());
ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  submitQuestion(ui.question.value);
});

ui.question.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    submitQuestion(ui.question.value);
  }
});

ui.newChat.addEventListener("click", newConversation);
ui.sourceClose.addEventListener("click", closeSource);
ui.sourcePrev.addEventListener("click", () => step(-1));
ui.sourceNext.addEventListener("click", () => step(1));
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") closeSource();
});

ui.question.focus();
