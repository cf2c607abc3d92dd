// The orders UI: a React component that loads /api/orders from the Java
// service and shows them in a table. Bundled by esbuild (npm run build).
import { useEffect, useState } from "react";
import { createRoot } from "react-dom/client";

export const BUILT_BY = "seed orders UI, React bundled by esbuild";

function Orders() {
  const [orders, setOrders] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    fetch("/api/orders")
      .then((res) => res.json())
      .then(setOrders)
      .catch((err) => setError(String(err)));
  }, []);
  if (error) return <p>could not load the orders: {error}</p>;
  if (!orders) return <p>loading…</p>;
  return (
    <table>
      <thead>
        <tr><th>id</th><th>customer</th><th>total</th></tr>
      </thead>
      <tbody>
        {orders.map((o) => (
          <tr key={o.id}><td>{o.id}</td><td>{o.customer}</td><td>{o.total.toFixed(2)}</td></tr>
        ))}
      </tbody>
    </table>
  );
}

function App() {
  return (
    <main>
      <h1>Orders</h1>
      <Orders />
      <footer>{BUILT_BY}</footer>
    </main>
  );
}

createRoot(document.getElementById("root")).render(<App />);
