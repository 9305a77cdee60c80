fetch('/openapi.json').then(r => r.json()).then(spec => {
  const main = document.getElementById('ops');
  main.textContent = '';
  const p = document.createElement('p');
  p.textContent = spec.info.description || '';
  main.appendChild(p);
  const resolve = ref => ref.split('/').slice(1).reduce((o, k) => o[k], spec);
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const div = document.createElement('section');
      div.className = 'op';
      const h = document.createElement('h3');
      const m = document.createElement('span');
      m.className = 'm ' + method; m.textContent = method.toUpperCase();
      const c = document.createElement('code'); c.textContent = ' ' + path;
      h.append(m, c, document.createTextNode(' — ' + (op.summary || '')));
      div.appendChild(h);
      if (op.description) { const d = document.createElement('p'); d.textContent = op.description; div.appendChild(d); }
      if (op.security) { const s = document.createElement('p'); s.textContent = 'Needs a bearer token.'; div.appendChild(s); }
      if (op.parameters) {
        const pre = document.createElement('pre');
        pre.textContent = 'Query: ' + op.parameters.map(x => x.name + ' (' + JSON.stringify(x.schema) + ')').join('\n       ');
        div.appendChild(pre);
      }
      if (op.requestBody) {
        const sch = op.requestBody.content['application/json'].schema;
        const pre = document.createElement('pre');
        pre.textContent = 'Body: ' + JSON.stringify(sch.$ref ? resolve(sch.$ref) : sch, null, 2);
        div.appendChild(pre);
      }
      const codes = document.createElement('p'); codes.className = 'codes';
      for (const [code, resp] of Object.entries(op.responses)) {
        const s = document.createElement('span');
        s.textContent = code + ' ' + (resp.$ref ? 'error' : resp.description);
        codes.appendChild(s);
      }
      div.appendChild(codes);
      main.appendChild(div);
    }
  }
}).catch(e => { document.getElementById('ops').textContent = 'Cannot load /openapi.json: ' + e; });
