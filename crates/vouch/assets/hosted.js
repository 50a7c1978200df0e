// The person's page with script. Two things, both optional (every step works without them):
// the events an embedding page receives (Didit's web SDK, or a plain iframe), and the camera.
(function () {
  'use strict';
  // Embedded: tell the parent what happens, as Didit's page does ({type, data, timestamp}).
  // Only origins the application allows can frame the page (its CSP's frame-ancestors), and
  // messages go to the parent's own origin when the browser says which it is.
  var facts = document.body.dataset;
  if (window.parent === window || !facts.sessionId) return;
  var ancestors = window.location.ancestorOrigins;
  var target = ancestors && ancestors.length ? ancestors[0] : '*';
  function post(type, data) {
    window.parent.postMessage({ type: type, data: data || {}, timestamp: Date.now() }, target);
  }
  var query = new URLSearchParams(window.location.search);
  post('didit:ready', { sessionId: facts.sessionId });
  if (facts.ended) {
    post('didit:error', { error: facts.ended === 'expired' ? 'sessionExpired' : facts.ended });
  } else {
    post('didit:status_updated', { status: facts.status });
    var hash = window.location.hash;
    if (query.get('done') && hash.indexOf('#step-') === 0) {
      post('didit:step_completed', { step: hash.slice(6), nextStep: facts.step || null });
    }
    if (facts.step) post('didit:step_started', { step: facts.step });
    if (facts.outcome) post('didit:completed', { sessionId: facts.sessionId, status: facts.status });
    Array.prototype.forEach.call(document.querySelectorAll('main form'), function (f) {
      f.addEventListener('submit', function () {
        if (facts.status === 'Not Started') post('didit:started', {});
      });
    });
  }
  if (query.get('sdk_presentation') === 'embedded') {
    var layout = function () {
      post('didit:layout', {
        contentHeight: document.documentElement.scrollHeight,
        colorScheme: 'light',
        dir: document.documentElement.dir || 'ltr',
      });
    };
    layout();
    if (window.ResizeObserver) new ResizeObserver(layout).observe(document.body);
  }
})();

// The camera for capture steps. Without this file every step
// still works (a file input with `capture`); with it, each file input gets a "use the camera"
// button that opens the back camera for documents and the front one for selfies, with a switch
// when there are several. The photo taken goes into the same file input and is sent by the
// same form, so the server checks it exactly as an uploaded one. Hints shown here (too dark,
// too small)
// never replace the server's checks. Sentences come from the form's data attributes, in the
// page's language.
(function () {
  'use strict';
  var media = navigator.mediaDevices;
  if (!media || !media.getUserMedia || !window.DataTransfer) return;

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text) e.textContent = text;
    return e;
  }

  // Average brightness of a frame (0..255), sampled, for the "too dark" hint.
  function brightness(ctx, w, h) {
    var data = ctx.getImageData(0, 0, w, h).data;
    var sum = 0, n = 0;
    for (var i = 0; i < data.length; i += 4 * 97) {
      sum += 0.2126 * data[i] + 0.7152 * data[i + 1] + 0.0722 * data[i + 2];
      n++;
    }
    return n ? sum / n : 0;
  }

  function setup(form) {
    var t = form.dataset;
    var live = el('p', { 'class': 'hint camera-status', role: 'status', 'aria-live': 'polite' });
    form.appendChild(live);
    Array.prototype.forEach.call(form.querySelectorAll('input[type=file][capture]'), function (input) {
      var facing = input.getAttribute('capture') === 'user' ? 'user' : 'environment';
      var open = el('button', { type: 'button', 'class': 'secondary camera-open' }, t.cameraOpen);
      open.setAttribute('aria-describedby', input.id + '-label');
      var panel = el('div', { 'class': 'camera', hidden: '' });
      var video = el('video', { autoplay: '', playsinline: '', muted: '' });
      video.setAttribute('aria-label', t.cameraView);
      var take = el('button', { type: 'button' }, t.cameraTake);
      var flip = el('button', { type: 'button', 'class': 'secondary', hidden: '' }, t.cameraSwitch);
      var cancel = el('button', { type: 'button', 'class': 'secondary' }, t.cameraCancel);
      var preview = el('img', { 'class': 'preview', alt: t.cameraPreview, hidden: '' });
      var buttons = el('div', { 'class': 'camera-buttons' });
      buttons.append(take, flip, cancel);
      panel.append(video, buttons);
      input.insertAdjacentElement('afterend', open);
      open.insertAdjacentElement('afterend', panel);
      panel.insertAdjacentElement('afterend', preview);
      var stream = null, devices = [], current = -1;

      function stop() {
        if (stream) stream.getTracks().forEach(function (tr) { tr.stop(); });
        stream = null;
        panel.hidden = true;
        open.hidden = false;
      }
      function start(constraints) {
        return media.getUserMedia({ video: constraints, audio: false }).then(function (s) {
          stream = s;
          video.srcObject = s;
          panel.hidden = false;
          open.hidden = true;
          return media.enumerateDevices();
        }).then(function (list) {
          devices = list.filter(function (d) { return d.kind === 'videoinput'; });
          flip.hidden = devices.length < 2;
          take.focus();
        });
      }
      open.addEventListener('click', function () {
        start({ facingMode: { ideal: facing }, width: { ideal: 1920 }, height: { ideal: 1080 } })
          .catch(function () {
            stop();
            // Refused once, refused for the page: every camera button goes, the file fields stay.
            Array.prototype.forEach.call(document.querySelectorAll('.camera-open'), function (b) {
              b.hidden = true;
            });
            live.textContent = t.cameraRefused;
            input.focus();
          });
      });
      flip.addEventListener('click', function () {
        if (!devices.length) return;
        current = (current + 1) % devices.length;
        var id = devices[current].deviceId;
        stop();
        start({ deviceId: { exact: id } }).catch(function () { live.textContent = t.cameraRefused; });
      });
      cancel.addEventListener('click', function () { stop(); open.focus(); });
      take.addEventListener('click', function () {
        var w = video.videoWidth, h = video.videoHeight;
        if (!w || !h) return;
        var canvas = el('canvas');
        canvas.width = w;
        canvas.height = h;
        var ctx = canvas.getContext('2d');
        ctx.drawImage(video, 0, 0, w, h);
        var dark = brightness(ctx, w, h) < 40;
        // The server refuses under 240 px; under 720 px details may not be readable.
        var small = Math.min(w, h) < 720;
        canvas.toBlob(function (blob) {
          if (!blob) return;
          var file = new File([blob], input.name + '.jpg', { type: 'image/jpeg' });
          var dt = new DataTransfer();
          dt.items.add(file);
          input.files = dt.files;
          preview.src = URL.createObjectURL(blob);
          preview.hidden = false;
          stop();
          live.textContent = t.cameraTaken + (dark ? ' ' + t.cameraDark : '') +
            (small ? ' ' + t.cameraSmall : '');
          open.textContent = t.cameraAgain;
          open.focus();
        }, 'image/jpeg', 0.92);
      });
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll('form.capture'), setup);
})();
