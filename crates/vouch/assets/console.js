// The console's keyboard shortcuts. Everything works without this script; with it, single keys
// move around and prepare actions, and a decision still needs Enter on "Record decision":
// no shortcut decides by itself.
(() => {
  'use strict';
  const help = document.getElementById('shortcuts');
  const say = (text) => {
    const live = document.getElementById('shortcut-status');
    if (live) live.textContent = text;
  };
  const typing = (el) => el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  const rows = () => Array.from(document.querySelectorAll('table.queue tbody th a'));
  const move = (step) => {
    const links = rows();
    if (links.length) {
      const at = links.indexOf(document.activeElement);
      const next = links[Math.max(0, Math.min(links.length - 1, at + step))];
      next.focus();
      return;
    }
    const link = document.querySelector(step > 0 ? 'a[rel="next"].session-nav' : 'a[rel="prev"].session-nav');
    if (link) link.click();
  };
  const prepare = (radioId) => {
    const radio = document.getElementById(radioId);
    const record = document.querySelector('button[name="action"][value="decide"]');
    if (!radio || !record) return;
    radio.checked = true;
    record.focus();
    const label = document.querySelector(`label[for="${radioId}"]`);
    say(`${label ? label.textContent : radioId}: ${record.dataset.confirm || 'press Enter to record it'}`);
  };
  const focusButton = (selector) => {
    const b = document.querySelector(selector);
    if (b) {
      b.focus();
      say(`${b.textContent}: ${b.dataset.confirm || 'press Enter'}`);
    }
  };
  document.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    switch (e.key) {
      case '?':
        if (help) {
          help.open = !help.open;
          if (help.open) help.querySelector('summary').focus();
        }
        break;
      case 'j': move(1); break;
      case 'k': move(-1); break;
      case 'a': prepare('approve'); break;
      case 'd': prepare('decline'); break;
      case 'r': prepare('resubmitted'); break;
      case 'c': focusButton('button[name="action"][value="claim"]'); break;
      case 'n': focusButton('form.next button'); break;
      case 'Escape': if (help && help.open) help.open = false; return;
      default: return;
    }
    e.preventDefault();
  });
})();
