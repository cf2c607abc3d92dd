// Renders every content/*.md page to dist/NAME.html with marked, and writes
// dist/index.html listing the pages (sorted, so the output is reproducible).
//
//   node build.mjs CONTENT_DIR OUT_DIR
import { readdir, readFile, mkdir, writeFile, rm } from "node:fs/promises";
import path from "node:path";
import { marked } from "marked";

function page(title, body) {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${title}</title><link rel="stylesheet" href="/style.css"></head>
<body>
${body}
<footer>rendered by marked for the seed</footer>
</body>
</html>
`;
}

async function main([src, out]) {
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  const names = (await readdir(src)).filter((n) => n.endsWith(".md")).sort();
  const links = [];
  for (const name of names) {
    const md = await readFile(path.join(src, name), "utf8");
    const title = (md.match(/^# (.+)$/m) || [, name])[1];
    const html = name.replace(/\.md$/, ".html");
    await writeFile(path.join(out, html), page(title, marked.parse(md)));
    links.push(`<li><a href="/${html}">${title}</a></li>`);
  }
  await writeFile(path.join(out, "index.html"), page("seed docs", `<h1>seed docs</h1>\n<ul>\n${links.join("\n")}\n</ul>`));
  await writeFile(path.join(out, "style.css"), "body { font-family: sans-serif; margin: 2rem; max-width: 40rem; }\nfooter { color: #888; }\n");
  console.log(`${names.length} pages rendered into ${out}`);
}

main(process.argv.slice(2)).catch((err) => {
  console.error(err);
  process.exit(1);
});
