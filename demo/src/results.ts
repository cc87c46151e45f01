// After training: a confusion matrix and small 28×28 digit images with their predicted labels.

/** A 28×28 canvas showing `pixels` (784 values in [0, 1], white ink on black as MNIST). */
export function digitCanvas(pixels: ArrayLike<number>, offset = 0): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = 28;
  canvas.height = 28;
  const ctx = canvas.getContext('2d')!;
  const image = ctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = Math.round(Math.min(1, Math.max(0, pixels[offset + i])) * 255);
    image.data[i * 4] = v;
    image.data[i * 4 + 1] = v;
    image.data[i * 4 + 2] = v;
    image.data[i * 4 + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
  return canvas;
}

/** A digit with a caption; `wrong` marks it red and names the true label. */
export function digitFigure(canvas: HTMLCanvasElement, predicted: string, truth: string, confidence?: number): HTMLElement {
  const figure = document.createElement('figure');
  const wrong = predicted !== truth;
  figure.className = wrong ? 'wrong' : 'right';
  figure.dataset.predicted = predicted;
  figure.dataset.label = truth;
  const caption = document.createElement('figcaption');
  caption.textContent = wrong ? `${predicted} (is ${truth})` : predicted;
  if (confidence !== undefined) caption.title = `${(confidence * 100).toFixed(1)}% sure`;
  canvas.setAttribute('aria-label', `digit ${truth}, predicted ${predicted}`);
  figure.append(canvas, caption);
  return figure;
}

/** Counts[true][predicted] of `labels` against `predicted`. */
export function confusion(labels: ArrayLike<number>, predicted: ArrayLike<number>, classes: number): number[][] {
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < labels.length; i++) m[labels[i]][predicted[i]]++;
  return m;
}

/** The matrix as a table: rows are true classes, columns predictions, shaded by row share. */
export function confusionTable(matrix: number[][], classNames: string[], shortNames = classNames): HTMLElement {
  const total = matrix.flat().reduce((a, b) => a + b, 0);
  const correct = matrix.reduce((n, row, i) => n + row[i], 0);
  const wrap = document.createElement('div');
  wrap.className = 'confusion-wrap';
  const score = document.createElement('p');
  score.innerHTML = `<span class="score" data-role="score" data-value="${correct / Math.max(1, total)}">${((correct / Math.max(1, total)) * 100).toFixed(1)}%</span> <span class="muted">correct, ${correct} of ${total}</span>`;
  const table = document.createElement('table');
  table.className = 'confusion';
  table.dataset.total = String(total);
  table.dataset.correct = String(correct);
  const caption = table.createCaption();
  caption.textContent = 'Confusion matrix';
  const head = table.createTHead().insertRow();
  head.append(Object.assign(document.createElement('th'), { textContent: '' }));
  for (const name of shortNames) head.append(Object.assign(document.createElement('th'), { textContent: name, scope: 'col' }));
  const body = table.createTBody();
  matrix.forEach((row, i) => {
    const tr = body.insertRow();
    tr.append(Object.assign(document.createElement('th'), { textContent: shortNames[i], scope: 'row', title: classNames[i] }));
    const rowTotal = Math.max(1, row.reduce((a, b) => a + b, 0));
    row.forEach((count, j) => {
      const td = tr.insertCell();
      td.textContent = String(count);
      const share = count / rowTotal;
      // Blue on the diagonal (right), red off it (wrong), stronger with the row's share.
      const [r, g, b] = i === j ? [47, 91, 211] : [198, 40, 40];
      td.style.background = count ? `rgba(${r}, ${g}, ${b}, ${0.1 + 0.75 * share})` : '#f6f7f9';
      td.style.color = share > 0.5 ? '#fff' : 'inherit';
      td.title = `true ${classNames[i]}, predicted ${classNames[j]}: ${count}`;
    });
  });
  const note = document.createElement('p');
  note.className = 'axis-note';
  note.textContent = 'Rows: true class · columns: predicted class';
  wrap.append(score, table, note);
  return wrap;
}
