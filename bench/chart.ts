/** A horizontal bar chart as an SVG document, for the README. */
export function chart(rows: Array<{ group: string; name: string; value: number }>, title: string): string {
  const escape = (text: string) => text.replace(/[&<>"]/g, (ch) => `&#${ch.charCodeAt(0)};`);
  const max = Math.max(1, ...rows.map((row) => (Number.isFinite(row.value) ? row.value : 0)));
  const barHeight = 22;
  const left = 420;
  const width = 900;
  const height = 50 + rows.length * (barHeight + 6);
  const bars = rows
    .map((row, i) => {
      const y = 40 + i * (barHeight + 6);
      const value = Number.isFinite(row.value) ? row.value : 0;
      const w = ((width - left - 90) * value) / max;
      const color = row.name.startsWith('co-op') ? '#2da44e' : row.name.startsWith('nginx') ? '#8c959f' : '#0969da';
      return (
        `<text x="${left - 8}" y="${y + 15}" text-anchor="end" font-size="12">${escape(`${row.group.replace(/^GET, /, '')}: ${row.name}`)}</text>` +
        `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" fill="${color}"/>` +
        `<text x="${(left + w + 6).toFixed(1)}" y="${y + 15}" font-size="12">${Math.round(value)}</text>`
      );
    })
    .join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="system-ui, sans-serif">
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="16" y="24" font-size="15" font-weight="600">${escape(title)}</text>
${bars}
</svg>
`;
}
