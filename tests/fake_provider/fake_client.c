/* fake_client: a tiny blocking HTTP/1.1 client (plain http:// only): one
 * request per connection ("Connection: close"), the answer read to EOF, its
 * status parsed and a chunked body decoded. */
#include "fake_client.h"

#include "fake_buf.h"

#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_ANSWER (4u * 1024 * 1024)

struct url_parts {
    char host[256];
    char port[8];
    const char *path; /* points into the URL; "" means "/" */
};

static int parse_url(const char *url, struct url_parts *u, char *err, size_t errcap)
{
    static const char scheme[] = "http://";
    if (strncasecmp(url, scheme, sizeof(scheme) - 1) != 0) {
        snprintf(err, errcap, "only http:// URLs are supported");
        return -1;
    }
    const char *host = url + sizeof(scheme) - 1;
    const char *end = host + strcspn(host, "/?");
    const char *colon = memchr(host, ':', (size_t)(end - host));
    const char *host_end = colon ? colon : end;
    if (host_end == host || (size_t)(host_end - host) >= sizeof(u->host)) {
        snprintf(err, errcap, "the URL has no valid host");
        return -1;
    }
    snprintf(u->host, sizeof(u->host), "%.*s", (int)(host_end - host), host);
    if (colon) {
        char *stop;
        long port = strtol(colon + 1, &stop, 10);
        if (stop != end || port < 1 || port > 65535) {
            snprintf(err, errcap, "the URL has no valid port");
            return -1;
        }
        snprintf(u->port, sizeof(u->port), "%ld", port);
    } else {
        snprintf(u->port, sizeof(u->port), "80");
    }
    u->path = end;
    return 0;
}

static int connect_to(const struct url_parts *u, long timeout_ms, char *err, size_t errcap)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(u->host, u->port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errcap, "cannot resolve %s: %s", u->host, gai_strerror(rc));
        return -1;
    }
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    int fd = -1;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        snprintf(err, errcap, "cannot connect to %s:%s: %s", u->host, u->port, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static int send_all(int fd, const char *p, size_t n, char *err, size_t errcap)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(err, errcap, "send failed: %s", w < 0 ? strerror(errno) : "closed");
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads until the peer closes (or the cap); -1 on a timeout or error. */
static int read_all(int fd, struct fake_buf *in, char *err, size_t errcap)
{
    char chunk[16384];
    for (;;) {
        ssize_t r = recv(fd, chunk, sizeof(chunk), 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errcap, "receive failed: %s", strerror(errno));
            return -1;
        }
        if (r == 0 || in->len + (size_t)r > MAX_ANSWER)
            return 0;
        fake_buf_add(in, chunk, (size_t)r);
    }
}

/* The value of a header in a raw header block, or NULL; *len gets its length. */
static const char *find_header(const char *head, size_t head_len, const char *name, size_t *len)
{
    size_t n = strlen(name);
    const char *p = memchr(head, '\n', head_len);
    const char *end = head + head_len;
    while (p && p + 1 < end) {
        const char *line = p + 1;
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol)
            eol = end;
        if ((size_t)(eol - line) > n && strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = eol;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
                ve--;
            *len = (size_t)(ve - v);
            return v;
        }
        p = eol < end ? eol : NULL;
    }
    return NULL;
}

/* Decodes a chunked body into out; stops quietly at anything malformed. */
static void dechunk(const char *p, const char *end, struct fake_buf *out)
{
    while (p < end) {
        char *stop;
        unsigned long size = strtoul(p, &stop, 16);
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (stop == p || !eol || size == 0)
            return;
        p = eol + 1;
        if ((size_t)(end - p) < size) {
            fake_buf_add(out, p, (size_t)(end - p));
            return;
        }
        fake_buf_add(out, p, size);
        p += size;
        if (p < end && *p == '\r')
            p++;
        if (p < end && *p == '\n')
            p++;
    }
}

/* Splits a raw answer into status and body. */
static int parse_answer(const struct fake_buf *in, struct fake_client_answer *answer, char *err,
                        size_t errcap)
{
    const char *raw = in->data ? in->data : "";
    int major, minor, status;
    if (sscanf(raw, "HTTP/%d.%d %d", &major, &minor, &status) != 3) {
        snprintf(err, errcap, "the answer is not HTTP");
        return -1;
    }
    const char *sep = in->len ? strstr(raw, "\r\n\r\n") : NULL;
    size_t skip = 4;
    if (!sep) {
        sep = strstr(raw, "\n\n");
        skip = 2;
    }
    const char *body = sep ? sep + skip : raw + in->len;
    const char *end = raw + in->len;
    size_t head_len = (size_t)(body - raw);
    size_t vlen = 0;
    struct fake_buf out = {0};
    const char *te = find_header(raw, head_len, "Transfer-Encoding", &vlen);
    const char *cl = find_header(raw, head_len, "Content-Length", &vlen);
    if (te && strncasecmp(te, "chunked", 7) == 0) {
        dechunk(body, end, &out);
    } else {
        size_t n = (size_t)(end - body);
        if (cl) {
            char *stop;
            unsigned long want = strtoul(cl, &stop, 10);
            if (stop != cl && want < n)
                n = want;
        }
        fake_buf_add(&out, body, n);
    }
    answer->status = status;
    answer->body = fake_buf_take(&out, &answer->body_len);
    if (!answer->body) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    return 0;
}

/* Sends one request and reads the whole answer; -1 with a reason in err. headers is an object
 * of strings (may be NULL). */
int fake_client_request(const char *method, const char *url, const json_t *headers,
                        const char *body, size_t body_len, long timeout_ms,
                        struct fake_client_answer *answer, char *err, size_t errcap)
{
    struct url_parts u;
    int rc = -1;
    memset(answer, 0, sizeof(*answer));
    if (parse_url(url, &u, err, errcap) < 0)
        return -1;
    struct fake_buf req = {0}, in = {0};
    bool has_type = false, has_host = false;
    fake_buf_printf(&req, "%s %s%s HTTP/1.1\r\n", method, u.path[0] == '/' ? "" : "/", u.path);
    const char *name;
    const json_t *value;
    json_object_foreach((json_t *)headers, name, value)
    {
        const char *v = json_string_value(value);
        if (!v || strpbrk(name, "\r\n:") || strpbrk(v, "\r\n"))
            continue;
        if (strcasecmp(name, "Content-Length") == 0 || strcasecmp(name, "Connection") == 0)
            continue;
        has_type |= strcasecmp(name, "Content-Type") == 0;
        has_host |= strcasecmp(name, "Host") == 0;
        fake_buf_printf(&req, "%s: %s\r\n", name, v);
    }
    if (!has_host)
        fake_buf_printf(&req, "Host: %s:%s\r\n", u.host, u.port);
    if (!has_type)
        fake_buf_str(&req, "Content-Type: application/json\r\n");
    fake_buf_printf(&req, "Content-Length: %zu\r\nConnection: close\r\n\r\n", body_len);
    fake_buf_add(&req, body, body_len);
    if (req.failed) {
        snprintf(err, errcap, "out of memory");
        goto out_buffers;
    }
    int fd = connect_to(&u, timeout_ms, err, errcap);
    if (fd < 0)
        goto out_buffers;
    if (send_all(fd, req.data, req.len, err, errcap) == 0 && read_all(fd, &in, err, errcap) == 0)
        rc = parse_answer(&in, answer, err, errcap);
    close(fd);
out_buffers:
    fake_buf_free(&in);
    fake_buf_free(&req);
    return rc;
}

/* Frees what an answer holds. */
void fake_client_answer_clear(struct fake_client_answer *answer)
{
    free(answer->body);
    memset(answer, 0, sizeof(*answer));
}
