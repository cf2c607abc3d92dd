// The dashboard: fetch the stock levels from the Python service and draw a
// bar per item. Bundled by esbuild (npm run build) into dist/app.js.
import { bar, total } from "./bars.js";

export const BUILT_BY = "seed dashboard, bundled by esbuild";

async function main() {
  const out = document.getElementById("stock");
  const res = await fetch("/api/stock");
  const items = await res.json();
  out.replaceChildren(...items.map((it) => bar(document, it, total(items))));
  document.getElementById("footer").textContent = BUILT_BY;
}

main().catch((err) => {
  document.getElementById("stock").textContent = "could not load the stock: " + err;
});
