// confirmAction asks before a destructive admin action in a modal
// <dialog>: focus moves to Cancel, Escape cancels, and focus returns to
// the control that asked. It resolves true when the admin confirms.

import { h, t } from './dom.js';

export function confirmAction(text, okText) {
  return new Promise((resolve) => {
    const back = document.activeElement;
    const msg = h('p', { id: 'confirm-text' }, text);
    const cancel = h('button', { type: 'button', class: 'secondary', id: 'confirm-cancel' }, t('cancel'));
    const ok = h('button', { type: 'button', class: 'danger', id: 'confirm-ok' }, okText || t('confirm'));
    const dlg = h('dialog', { class: 'confirm', role: 'alertdialog', 'aria-labelledby': 'confirm-h', 'aria-describedby': 'confirm-text' },
      h('h2', { id: 'confirm-h' }, t('are_you_sure')), msg,
      h('div', { class: 'dialog-actions' }, cancel, ok));
    let answer = false;
    const finish = () => {
      dlg.remove();
      if (back && back.isConnected && back.focus) back.focus();
      resolve(answer);
    };
    cancel.addEventListener('click', () => dlg.close());
    ok.addEventListener('click', () => {
      answer = true;
      dlg.close();
    });
    dlg.addEventListener('close', finish);
    document.body.appendChild(dlg);
    dlg.showModal();
    cancel.focus();
  });
}
