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
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The seed's frontend + backend system (example 3), backend: an HTTP server
 * on the JDK's built-in com.sun.net.httpserver that serves the static site the
 * node stage built (from $SITE, default /app/site) and a JSON API:
 * GET /api/status, GET /healthz.
 *
 * <p>It listens on $BIND:$PORT (default 0.0.0.0:8080, as a container should).
 * {@code --selftest} serves on a loopback port, checks the API and the site,
 * and exits 0 or 1.
 */
public final class Server {
    private static final Map<String, String> TYPES = Map.of(
            "html", "text/html; charset=utf-8",
            "css", "text/css; charset=utf-8",
            "js", "text/javascript; charset=utf-8",
            "json", "application/json");

    private Server() {}

    static HttpServer start(String bind, int port, Path site) throws IOException {
        Path root = site.toAbsolutePath().normalize();
        HttpServer srv = HttpServer.create(new InetSocketAddress(bind, port), 0);
        srv.createContext("/", ex -> serveFile(ex, root));
        srv.createContext("/healthz", ex -> send(ex, 200, "text/plain; charset=utf-8", bytes("ok\n")));
        srv.createContext("/api/status", ex -> {
            long pages;
            try (Stream<Path> s = Files.list(root)) {
                pages = s.filter(p -> p.toString().endsWith(".html")).count();
            }
            send(ex, 200, "application/json",
                    bytes("{\"language\":\"java\",\"pages\":" + pages + ",\"service\":\"seed docs\"}\n"));
        });
        srv.start();
        return srv;
    }

    /** Serves a file of the site; "/" and directories serve their index.html. */
    static void serveFile(HttpExchange ex, Path root) throws IOException {
        Path p = root.resolve(ex.getRequestURI().getPath().substring(1)).normalize();
        if (Files.isDirectory(p)) {
            p = p.resolve("index.html");
        }
        if (!p.startsWith(root) || !Files.isRegularFile(p)) {
            send(ex, 404, "text/plain; charset=utf-8", bytes("not found\n"));
            return;
        }
        String name = p.getFileName().toString();
        String ext = name.substring(name.lastIndexOf('.') + 1);
        send(ex, 200, TYPES.getOrDefault(ext, "application/octet-stream"), Files.readAllBytes(p));
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static void send(HttpExchange ex, int status, String type, byte[] body) throws IOException {
        ex.getResponseHeaders().set("Content-Type", type);
        ex.sendResponseHeaders(status, body.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(body);
        }
    }

    /** Serves on 127.0.0.1 and checks the API and the site; returns an error text or null. */
    static String selftest(Path site) throws IOException {
        HttpServer srv = start("127.0.0.1", 0, site);
        try {
            String[][] checks = {
                {"/healthz", "200", "ok"},
                {"/api/status", "200", "\"service\":\"seed docs\""},
                {"/", "200", "<title>seed docs</title>"},
                {"/deploying.html", "200", "<h1>Deploying</h1>"},
                {"/../etc/passwd", "404", ""},
                {"/missing.html", "404", ""},
            };
            for (String[] c : checks) {
                URL url = new URL("http://127.0.0.1:" + srv.getAddress().getPort() + c[0]);
                HttpURLConnection conn = (HttpURLConnection) url.openConnection();
                conn.setConnectTimeout(5000);
                conn.setReadTimeout(5000);
                int status = conn.getResponseCode();
                String got;
                try (InputStream in = status < 400 ? conn.getInputStream() : conn.getErrorStream()) {
                    got = in == null ? "" : new String(in.readAllBytes(), StandardCharsets.UTF_8);
                }
                if (status != Integer.parseInt(c[1]) || !got.contains(c[2])) {
                    return "GET " + c[0] + ": " + status + " " + got + ", want " + c[1] + " with " + c[2];
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
        Path site = Paths.get(env("SITE", "/app/site"));
        if (args.length == 1 && args[0].equals("--selftest")) {
            String err = selftest(site);
            if (err != null) {
                System.err.println("selftest: " + err);
                System.exit(1);
            }
            System.out.println("selftest: ok");
            return;
        }
        String bind = env("BIND", "0.0.0.0");
        int port = Integer.parseInt(env("PORT", "8080"));
        start(bind, port, site);
        System.err.println("listening on " + bind + ":" + port + ", site " + site);
    }
}
