/** The 404 page the HTTP face serves (the ring page is ring-page.ts). */

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

export function notFoundPage(name: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>404 Not Found</title>
<style>body{font:16px/1.5 system-ui,sans-serif;margin:4rem auto;max-width:36rem;color:#222}code{background:#f3f3f3;padding:0 .3em}</style>
</head><body>
<h1>404 Not Found</h1>
<p>No server in the ring holds <code>${escapeHtml(name)}</code>.</p>
<p>See <a href="/_ring">the ring</a>.</p>
</body></html>
`;
}
