// Drawing helpers for the dashboard.

// total is the sum of the items' counts.
export function total(items) {
  return items.reduce((n, it) => n + it.count, 0);
}

// bar returns a row: the item's name and a bar as wide as its share of sum.
export function bar(doc, item, sum) {
  const row = doc.createElement("div");
  row.className = "row";
  const label = doc.createElement("span");
  label.textContent = `${item.name} (${item.count})`;
  const fill = doc.createElement("span");
  fill.className = "bar";
  fill.style.width = `${sum ? Math.round((100 * item.count) / sum) : 0}%`;
  row.append(label, fill);
  return row;
}
