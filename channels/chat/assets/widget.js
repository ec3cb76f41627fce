/*! Svar chat widget. Add to a page with:
 *  <script src="https://support.example.com/widget.js" async></script>
 * Optional attributes on the script tag: data-lang="sv|en", and for a
 * logged-in customer data-external-id, data-signature, data-email, data-name
 * (see docs/chat.md). No framework, no cookies; state lives in localStorage. */
(() => {
  "use strict";
  const script = document.currentScript || [...document.querySelectorAll("script[src*='widget.js']")].pop();
  if (!script || document.getElementById("svar-chat")) return;

  const base = new URL(script.src, location.href);
  const wsURL = (base.protocol === "https:" ? "wss://" : "ws://") + base.host + "/chat/ws";
  const ds = script.dataset;
  const lang = /^sv/i.test(ds.lang || document.documentElement.lang || "") ? "sv" : "en";

  const T = {
    en: {
      open: "Open chat", close: "Close chat", title: "Chat with us", hi: "Hi! How can we help you?",
      label: "Message", ph: "Write a message…", send: "Send", unread: n => n + (n === 1 ? " unread message" : " unread messages"),
      connecting: "Connecting…", offline: "You are offline. Your messages will be sent when the connection is back.",
      online: "We are online", away: "No agent is online right now",
      sending: "Sending…", failed: "Not sent", you: "You", support: "Support", typing: "Support is typing…",
      noagent: "No agent is online right now. Leave your email and we'll reply there.",
      email: "Your email", save: "Save", saved: a => "Thanks! If you have left, we'll reply to " + a + ".",
      emailmsg: a => "My email address: " + a, log: "Conversation", rate: "You are sending messages too fast. Wait a moment.",
      mailed: "Sent to you by email",
      rateus: "How satisfied are you with the help you got?", star: n => n + " of 5", thanks: "Thanks for your rating!"
    },
    sv: {
      open: "Öppna chatten", close: "Stäng chatten", title: "Chatta med oss", hi: "Hej! Hur kan vi hjälpa dig?",
      label: "Meddelande", ph: "Skriv ett meddelande…", send: "Skicka", unread: n => n + (n === 1 ? " oläst meddelande" : " olästa meddelanden"),
      connecting: "Ansluter…", offline: "Du är offline. Dina meddelanden skickas när anslutningen är tillbaka.",
      online: "Vi är online", away: "Ingen handläggare är online just nu",
      sending: "Skickar…", failed: "Inte skickat", you: "Du", support: "Kundtjänst", typing: "Kundtjänst skriver…",
      noagent: "Ingen handläggare är online just nu. Lämna din e-postadress så svarar vi där.",
      email: "Din e-postadress", save: "Spara", saved: a => "Tack! Om du har gått svarar vi till " + a + ".",
      emailmsg: a => "Min e-postadress: " + a, log: "Konversation", rate: "Du skickar meddelanden för snabbt. Vänta en stund.",
      mailed: "Skickat till dig via e-post",
      rateus: "Hur nöjd är du med hjälpen du fick?", star: n => n + " av 5", thanks: "Tack för ditt betyg!"
    }
  }[lang];

  // Persistent state: t visitor token, x the external id the token belongs
  // to, q messages not yet confirmed by the server, e the email left for
  // replies, r when the visitor last read the conversation.
  const KEY = "svar-chat:" + base.host;
  let st = {};
  try { st = JSON.parse(localStorage.getItem(KEY)) || {}; } catch (e) { st = {}; }
  st.q = Array.isArray(st.q) ? st.q : [];
  const save = () => { try { localStorage.setItem(KEY, JSON.stringify(st)); } catch (e) { /* private mode: memory only */ } };

  const identity = {};
  for (const [k, a] of [["external_id", "externalId"], ["signature", "signature"], ["email", "email"], ["name", "name"]]) {
    if (ds[a]) identity[k] = ds[a];
  }
  if (!identity.email && st.e) identity.email = st.e;
  // A token belongs to one visitor: when the logged-in customer changes
  // (or logs out), start over as a new visitor.
  if ((st.x || "") !== (identity.external_id || "")) { st = { q: [], e: st.e }; st.x = identity.external_id || ""; save(); }

  // ---- DOM, isolated in a shadow root ----
  const host = document.createElement("div");
  host.id = "svar-chat";
  const root = host.attachShadow({ mode: "open" });
  root.innerHTML = `<style>
:host{all:initial}
*{box-sizing:border-box;font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
.launch{position:fixed;right:20px;bottom:20px;width:58px;height:58px;border-radius:50%;border:0;background:#0f766e;color:#fff;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25);z-index:2147483000;display:grid;place-items:center}
.launch svg{width:28px;height:28px;fill:currentColor}
.badge{position:absolute;top:-4px;right:-4px;min-width:22px;height:22px;padding:0 6px;border-radius:11px;background:#dc2626;color:#fff;font-size:12px;font-weight:700;display:grid;place-items:center}
.panel{position:fixed;right:20px;bottom:90px;width:370px;max-width:calc(100vw - 24px);height:540px;max-height:calc(100vh - 110px);background:#fff;color:#1f2933;border-radius:14px;box-shadow:0 10px 40px rgba(0,0,0,.28);display:flex;flex-direction:column;overflow:hidden;z-index:2147483001}
[hidden]{display:none!important}
header{background:#0f766e;color:#fff;padding:12px 14px;display:flex;align-items:center;gap:8px}
h2{margin:0;font-size:16px;font-weight:700;flex:1}
.status{margin:0;font-size:12px;opacity:.9}
.x{background:transparent;border:0;color:#fff;font-size:24px;line-height:1;cursor:pointer;padding:2px 8px;border-radius:6px}
.log{list-style:none;margin:0;padding:12px;flex:1;overflow-y:auto;background:#f7f7f8;display:flex;flex-direction:column;gap:8px}
.log li{max-width:82%;display:flex;flex-direction:column}
.b{padding:8px 11px;border-radius:12px;white-space:pre-wrap;overflow-wrap:anywhere}
.me{align-self:flex-end;align-items:flex-end}.me .b{background:#0f766e;color:#fff;border-bottom-right-radius:4px}
.them{align-self:flex-start}.them .b{background:#fff;border:1px solid #e3e5e8;border-bottom-left-radius:4px}
.sys{align-self:center;max-width:100%;text-align:center;color:#52606d;font-size:13px}
.meta{font-size:11px;color:#616e7c;margin-top:2px}
.files{display:flex;flex-direction:column;gap:2px;margin-top:4px}.files a{color:#0f766e;font-size:13px;overflow-wrap:anywhere}
.fail .meta{color:#b91c1c}
.typing{margin:0;padding:4px 14px;font-size:12px;color:#52606d;background:#f7f7f8}
.mail{padding:10px 12px;border-top:1px solid #e3e5e8;background:#fffbeb;display:flex;flex-wrap:wrap;gap:6px;align-items:center}
.mail p{margin:0;width:100%;font-size:13px}
.mail label{width:100%;font-size:12px;font-weight:600}
.mail input{flex:1;min-width:0;padding:7px 9px;border:1px solid #9aa5b1;border-radius:8px}
.compose{display:flex;gap:8px;padding:10px 12px;border-top:1px solid #e3e5e8}
textarea{flex:1;resize:none;padding:8px 10px;border:1px solid #9aa5b1;border-radius:8px;max-height:120px}
.send,.mail button{border:0;border-radius:8px;padding:0 14px;background:#0f766e;color:#fff;font-weight:600;cursor:pointer;min-height:36px}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
button:focus-visible,textarea:focus-visible,input:focus-visible,.log:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
@media (max-width:480px){.panel{right:0;bottom:0;width:100vw;max-width:100vw;height:100%;max-height:100%;border-radius:0}}
</style>
<button class="launch" type="button" aria-expanded="false" aria-controls="panel"><svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/></svg><span class="badge" hidden></span></button>
<section class="panel" id="panel" role="dialog" aria-labelledby="title" hidden>
<header><div style="flex:1"><h2 id="title"></h2><p class="status" role="status"></p></div><button class="x" type="button">&times;</button></header>
<ol class="log" role="log" aria-live="polite" tabindex="0"><li class="sys hi"></li></ol>
<p class="typing" aria-live="polite" hidden></p>
<form class="mail" hidden novalidate><p class="mailtext"></p><label for="email"></label><input id="email" type="email" autocomplete="email" required><button type="submit" class="save"></button></form>
<form class="compose"><label for="msg" class="sr"></label><textarea id="msg" rows="2" maxlength="4000"></textarea><button type="submit" class="send"></button></form>
</section>`;
  const $ = s => root.querySelector(s);
  const launch = $(".launch"), badge = $(".badge"), panel = $(".panel"), log = $(".log"), status = $(".status"),
    typingEl = $(".typing"), mailForm = $(".mail"), emailIn = $("#email"), form = $(".compose"), input = $("#msg");
  $("#title").textContent = T.title;
  $(".hi").textContent = T.hi;
  $(".x").setAttribute("aria-label", T.close);
  log.setAttribute("aria-label", T.log);
  $(".mailtext").textContent = T.noagent;
  $("label[for=email]").textContent = T.email;
  $(".save").textContent = T.save;
  $("label[for=msg]").textContent = T.label;
  input.placeholder = T.ph;
  $(".send").textContent = T.send;
  typingEl.textContent = T.typing;

  // ---- state ----
  // agentsOnline: null until the server has said (never claim "online" before).
  let ws = null, connected = false, attempt = 0, retryTimer = 0, opened = false, agentsOnline = null, unread = 0;
  let typingTimer = 0, typingSentAt = 0, theirTypingTimer = 0, resendTimer = 0;
  const items = new Map(); // message id or "c:"+client_id -> <li>

  const newID = () => {
    const b = new Uint8Array(12);
    crypto.getRandomValues(b);
    return Array.from(b, x => x.toString(16).padStart(2, "0")).join("");
  };

  const setLaunchLabel = () => {
    launch.setAttribute("aria-label", T.open + (unread ? " (" + T.unread(unread) + ")" : ""));
    badge.hidden = !unread;
    badge.textContent = unread > 9 ? "9+" : String(unread);
  };

  // Business hours from the welcome frame: closed, we open at … (messages are still taken).
  let closedUntil = null;
  const closedText = d => (lang === "sv" ? "Stängt just nu. Vi öppnar " : "Closed right now. We open ") +
    d.toLocaleString(lang === "sv" ? "sv-SE" : "en-GB", { weekday: "long", day: "numeric", month: "long", hour: "2-digit", minute: "2-digit" });

  const setStatus = () => {
    status.textContent = !navigator.onLine ? T.offline : !connected || agentsOnline === null ? T.connecting : closedUntil ? closedText(closedUntil) : agentsOnline ? T.online : T.away;
    mailForm.hidden = !connected || agentsOnline !== false || !!st.e;
  };

  const stick = () => { log.scrollTop = log.scrollHeight; };

  // render adds or updates one message in the log. m is a server message
  // or a local pending one ({client_id, text, pending}).
  const render = m => {
    const mine = m.direction === "inbound" || m.pending || m.failed;
    let li = (m.id && items.get(m.id)) || (m.client_id && items.get("c:" + m.client_id));
    const fresh = !li;
    if (fresh) {
      li = document.createElement("li");
      li.innerHTML = '<span class="b"></span><span class="meta"></span>';
      log.appendChild(li);
    }
    li.className = (mine ? "me" : "them") + (m.failed ? " fail" : "");
    li.firstChild.textContent = m.text;
    li.firstChild.hidden = !m.text;
    if (m.attachments && m.attachments.length) {
      // An agent's files: signed, expiring download links.
      let fl = li.querySelector(".files");
      if (!fl) { fl = document.createElement("span"); fl.className = "files"; li.insertBefore(fl, li.lastChild); }
      fl.textContent = "";
      for (const a of m.attachments) {
        const l = document.createElement("a");
        l.href = new URL(a.url, base).href; l.textContent = "\u{1F4CE} " + a.filename; l.setAttribute("download", a.filename);
        l.rel = "noopener"; l.target = "_blank";
        fl.appendChild(l);
      }
    }
    let meta = mine ? T.you : (m.author && m.author.name) || T.support;
    if (m.pending) meta = T.sending;
    if (m.failed) meta = T.failed + (m.error ? ": " + m.error : "");
    if (!mine && m.delivery && m.delivery.channel === "email") meta += " · " + T.mailed;
    li.lastChild.textContent = meta;
    if (m.id) items.set(m.id, li);
    if (m.client_id) items.set("c:" + m.client_id, li);
    if (fresh) stick();
    return fresh;
  };

  const send = f => {
    if (ws && connected && ws.readyState === 1) { ws.send(JSON.stringify(f)); return true; }
    return false;
  };

  const sendQueue = () => {
    for (const q of st.q) {
      const f = { type: "message", text: q.t, client_id: q.c };
      if (q.e) f.email = q.e;
      if (!send(f)) return;
    }
  };

  const unqueue = cid => {
    const n = st.q.length;
    st.q = st.q.filter(q => q.c !== cid);
    if (st.q.length !== n) save();
  };

  const enqueue = (text, email) => {
    const q = { c: newID(), t: text };
    if (email) q.e = email;
    st.q.push(q);
    save();
    render({ client_id: q.c, text, pending: true });
    const f = { type: "message", text, client_id: q.c };
    if (email) f.email = email;
    send(f);
  };

  const markRead = () => {
    unread = 0;
    st.r = new Date().toISOString();
    save();
    setLaunchLabel();
  };

  const onFrame = f => {
    switch (f.type) {
      case "welcome": {
        st.t = f.visitor_token;
        connected = true;
        attempt = 0;
        for (const li of [...log.children]) if (!li.classList.contains("hi")) li.remove();
        items.clear();
        unread = 0;
        for (const m of f.messages || []) {
          render(m);
          if (m.client_id) unqueue(m.client_id);
          if (m.direction === "outbound" && (!st.r || Date.parse(m.created_at) > Date.parse(st.r)) && !opened) unread++;
        }
        for (const q of st.q) render({ client_id: q.c, text: q.t, pending: true });
        agentsOnline = typeof f.agents_online === "boolean" ? f.agents_online : null;
        closedUntil = f.open === false && f.next_open ? new Date(f.next_open) : null;
        save();
        setLaunchLabel();
        setStatus();
        sendQueue();
        if (opened) markRead();
        break;
      }
      case "message": {
        const m = f.message;
        if (!m) return;
        if (m.client_id) unqueue(m.client_id);
        const fresh = render(m);
        if (m.direction === "outbound") {
          typingEl.hidden = true;
          if (fresh && (!opened || document.hidden)) { unread++; setLaunchLabel(); }
          if (opened && !document.hidden) markRead();
        }
        break;
      }
      case "typing":
        clearTimeout(theirTypingTimer);
        typingEl.hidden = !f.typing;
        if (f.typing) theirTypingTimer = setTimeout(() => { typingEl.hidden = true; }, 8000);
        break;
      case "csat_request": {
        // A rating prompt: five buttons; the answer is a csat frame.
        if (!f.token || log.querySelector("[data-csat='" + f.token + "']")) break;
        const li = document.createElement("li");
        li.className = "sys csat";
        li.dataset.csat = f.token;
        const q = document.createElement("p");
        q.textContent = T.rateus;
        const g = document.createElement("div");
        g.setAttribute("role", "group");
        g.setAttribute("aria-label", T.rateus);
        for (let n = 1; n <= 5; n++) {
          const b = document.createElement("button");
          b.type = "button";
          b.textContent = String(n);
          b.setAttribute("aria-label", T.star(n));
          b.addEventListener("click", () => {
            if (ws && connected) ws.send(JSON.stringify({ type: "csat", token: f.token, score: n }));
            for (const x of g.querySelectorAll("button")) x.setAttribute("aria-pressed", String(x === b));
          });
          g.appendChild(b);
        }
        li.append(q, g);
        log.appendChild(li);
        stick();
        break;
      }
      case "csat_recorded":
        notice(T.thanks);
        break;
      case "agents":
        agentsOnline = !!f.online;
        setStatus();
        break;
      case "error": {
        const code = f.error && f.error.code;
        if (code === "invalid_signature") { console.warn("Svar chat: " + f.error.message); return; }
        if (f.client_id && (code === "rate_limited" || code === "unavailable")) {
          // Still queued: try again a little later.
          if (code === "rate_limited") notice(T.rate);
          clearTimeout(resendTimer);
          resendTimer = setTimeout(sendQueue, code === "rate_limited" ? 10000 : 3000);
          return;
        }
        if (f.client_id) {
          const q = st.q.find(x => x.c === f.client_id);
          unqueue(f.client_id);
          render({ client_id: f.client_id, text: q ? q.t : "", failed: true, error: f.error.message });
          return;
        }
        notice(f.error ? f.error.message : "error");
      }
    }
  };

  const notice = text => {
    const li = document.createElement("li");
    li.className = "sys";
    li.textContent = text;
    log.appendChild(li);
    stick();
  };

  const connect = () => {
    clearTimeout(retryTimer);
    if (ws) return;
    try { ws = new WebSocket(wsURL); } catch (e) { ws = null; return retry(); }
    ws.onopen = () => {
      const hello = { type: "hello" };
      if (st.t) hello.visitor_token = st.t;
      if (Object.keys(identity).length) hello.identity = identity;
      ws.send(JSON.stringify(hello));
    };
    ws.onmessage = e => { let f; try { f = JSON.parse(e.data); } catch (x) { return; } onFrame(f); };
    ws.onclose = () => { ws = null; connected = false; setStatus(); retry(); };
  };

  // retry reconnects with exponential backoff (1 s doubling to 30 s, with
  // jitter so that a restarted server is not hit by everyone at once).
  const retry = () => {
    clearTimeout(retryTimer);
    const delay = Math.min(30000, 1000 * 2 ** attempt) * (0.5 + Math.random() / 2);
    attempt = Math.min(attempt + 1, 10);
    retryTimer = setTimeout(connect, delay);
  };

  const setOpen = open => {
    opened = open;
    panel.hidden = !open;
    launch.setAttribute("aria-expanded", String(open));
    if (open) {
      connect();
      markRead();
      stick();
      input.focus();
    } else {
      launch.focus();
    }
  };

  launch.addEventListener("click", () => setOpen(!opened));
  $(".x").addEventListener("click", () => setOpen(false));
  panel.addEventListener("keydown", e => { if (e.key === "Escape") { e.preventDefault(); setOpen(false); } });

  const stopTyping = () => {
    clearTimeout(typingTimer);
    if (typingSentAt) { send({ type: "typing", typing: false }); typingSentAt = 0; }
  };
  input.addEventListener("input", () => {
    const now = Date.now();
    if (input.value && now - typingSentAt > 2000 && send({ type: "typing", typing: true })) typingSentAt = now;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(stopTyping, 3000);
  });
  input.addEventListener("keydown", e => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
  });
  form.addEventListener("submit", e => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    stopTyping();
    enqueue(text.slice(0, 4000));
    input.focus();
  });
  mailForm.addEventListener("submit", e => {
    e.preventDefault();
    const a = emailIn.value.trim();
    if (!a || !emailIn.checkValidity()) { emailIn.setAttribute("aria-invalid", "true"); emailIn.focus(); return; }
    emailIn.removeAttribute("aria-invalid");
    st.e = a;
    identity.email = identity.email || a;
    save();
    enqueue(T.emailmsg(a), a);
    notice(T.saved(a));
    setStatus();
    input.focus();
  });

  addEventListener("online", () => { setStatus(); if (!ws && (opened || st.t)) { attempt = 0; connect(); } });
  addEventListener("offline", setStatus);
  document.addEventListener("visibilitychange", () => { if (!document.hidden && opened) markRead(); });

  // A small API for the shop's own buttons: SvarChat.open() / .close().
  window.SvarChat = { open: () => setOpen(true), close: () => setOpen(false) };

  const mount = () => {
    document.body.appendChild(host);
    setLaunchLabel();
    setStatus();
    // Returning visitors connect at once, so replies and the unread badge
    // arrive without opening the chat; others connect on first open.
    if (st.t || st.q.length) connect();
  };
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
