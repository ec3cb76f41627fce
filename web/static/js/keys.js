// Keyboard shortcuts. They act only when the agent is not typing in a
// field, and not within a second after they typed in one (focus may have
// moved on mid-word, say when a reply was sent), so that letters always
// reach the text box they are typed in.

import { $, announce, t } from './dom.js';

function typing(el) {
  if (!el) return false;
  const tag = el.tagName;
  return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || el.isContentEditable;
}

// QUIET_MS is how long after typing in a field single-key shortcuts rest.
const QUIET_MS = 1000;

export function installKeys(app) {
  // Text typed in a field: an input event from a key pressed in a field
  // (Escape or Tab are no typing, nor the letter of a shortcut that just
  // moved the focus into a field).
  let lastTyped = 0;
  let keyInField = false;
  document.addEventListener('keydown', (e) => {
    keyInField = typing(e.target);
  }, true);
  document.addEventListener('input', (e) => {
    if (keyInField && typing(e.target)) lastTyped = Date.now();
  }, true);
  const help = $('#help');
  const helpBtn = $('#help-btn');
  const openHelp = () => {
    if (!help.open) help.showModal();
  };
  helpBtn.addEventListener('click', openHelp);
  $('#help-close').addEventListener('click', () => help.close());
  help.addEventListener('close', () => helpBtn.focus());

  document.addEventListener('keydown', (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    if (help.open) return; // the dialog handles Escape itself
    if (typing(e.target)) return;
    if (Date.now() - lastTyped < QUIET_MS && e.key.length === 1) return;
    const pane = app.pane;
    switch (e.key) {
      case 'j':
      case 'ArrowDown':
        if (e.key === 'ArrowDown' && !(e.target.classList && e.target.classList.contains('row'))) return;
        app.inbox.move(1);
        break;
      case 'k':
      case 'ArrowUp':
        if (e.key === 'ArrowUp' && !(e.target.classList && e.target.classList.contains('row'))) return;
        app.inbox.move(-1);
        break;
      case 'o':
      case 'Enter': {
        const row = e.target.closest && e.target.closest('a.row');
        if (!row) {
          if (e.key === 'Enter') return; // Enter keeps its meaning on buttons and links
          app.inbox.focusSelected();
          const focused = document.activeElement;
          if (focused && focused.classList.contains('row')) app.openTicket(focused.dataset.id);
          break;
        }
        app.openTicket(row.dataset.id);
        break;
      }
      case 'r':
      case 'n':
        if (!pane) {
          announce(t('open_ticket_first'));
          break;
        }
        pane.focusReply(e.key === 'n');
        break;
      case 'm':
        if (!pane) {
          announce(t('open_ticket_first'));
          break;
        }
        pane.openMacros('');
        break;
      case 's':
        if (!pane) {
          announce(t('open_ticket_first'));
          break;
        }
        pane.solve();
        break;
      case 'u':
      case 'Escape':
        if (app.mode === 'ticket') app.navigate('/views/' + app.inbox.view, { focusList: true });
        else return;
        break;
      case '/':
        $('#q').focus();
        break;
      case '?':
        openHelp();
        break;
      default:
        return;
    }
    e.preventDefault();
  });
}
