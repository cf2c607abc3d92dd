package seed;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.InetSocketAddress;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The seed's Java service (example 2): an HTTP server on the JDK's built-in
 * com.sun.net.httpserver, no dependencies. GET / answers a fixed line,
 * GET /healthz "ok", GET /api/hello a JSON object.
 *
 * <p>It listens on $BIND:$PORT (default 0.0.0.0:8080, as a container should).
 * {@code --selftest} serves on a loopback port, checks the answers and exits
 * 0 or 1.
 */
public final class Server {
    static final String GREETING = "hello from the seed (java)\n";
    static final String HELLO = "{\"language\":\"java\",\"message\":\"hello from the seed\"}\n";

    private Server() {}

    static HttpServer start(String bind, int port) throws IOException {
        HttpServer srv = HttpServer.create(new InetSocketAddress(bind, port), 0);
        srv.createContext("/", ex -> {
            if (!ex.getRequestURI().getPath().equals("/")) {
                send(ex, 404, "text/plain; charset=utf-8", "not found\n");
            } else {
                send(ex, 200, "text/plain; charset=utf-8", GREETING);
            }
        });
        srv.createContext("/healthz", ex -> send(ex, 200, "text/plain; charset=utf-8", "ok\n"));
        srv.createContext("/api/hello", ex -> send(ex, 200, "application/json", HELLO));
        srv.start();
        return srv;
    }

    static void send(HttpExchange ex, int status, String type, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", type);
        ex.sendResponseHeaders(status, b.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(b);
        }
    }

    /** Serves on 127.0.0.1 and checks the answers; returns an error text or null. */
    static String selftest() throws IOException {
        HttpServer srv = start("127.0.0.1", 0);
        try {
            Map<String, String> checks = new LinkedHashMap<>();
            checks.put("/", GREETING);
            checks.put("/healthz", "ok\n");
            checks.put("/api/hello", HELLO);
            for (Map.Entry<String, String> c : checks.entrySet()) {
                URL url = new URL("http://127.0.0.1:" + srv.getAddress().getPort() + c.getKey());
                HttpURLConnection conn = (HttpURLConnection) url.openConnection();
                conn.setConnectTimeout(5000);
                conn.setReadTimeout(5000);
                int status = conn.getResponseCode();
                String got;
                try (InputStream in = conn.getInputStream()) {
                    got = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                }
                if (status != 200 || !got.equals(c.getValue())) {
                    return "GET " + c.getKey() + ": " + status + " " + got + ", want 200 " + c.getValue();
                }
            }
            return null;
        } finally {
            srv.stop(0);
        }
    }

    static String env(String key, String def) {
        String v = System.getenv(key);
        return v == null || v.isEmpty() ? def : v;
    }

    public static void main(String[] args) throws IOException {
        if (args.length == 1 && args[0].equals("--selftest")) {
            String err = selftest();
            if (err != null) {
                System.err.println("selftest: " + err);
                System.exit(1);
            }
            System.out.println("selftest: ok");
            return;
        }
        String bind = env("BIND", "0.0.0.0");
        int port = Integer.parseInt(env("PORT", "8080"));
        start(bind, port);
        System.err.println("listening on " + bind + ":" + port);
    }
}
