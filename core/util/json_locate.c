/* json_locate: the line of a JSON text where the member at a path starts. */
#include "util/json_locate.h"

#include "util/buf.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

struct cursor {
    const char *s;
    size_t len;
    size_t pos;
    int line;
};

static bool at_end(const struct cursor *c)
{
    return c->pos >= c->len;
}

static char peek(const struct cursor *c)
{
    return at_end(c) ? '\0' : c->s[c->pos];
}

/* Moves one byte on, counting lines. */
static void step(struct cursor *c)
{
    if (c->s[c->pos] == '\n')
        c->line++;
    c->pos++;
}

static void skip_space(struct cursor *c)
{
    while (!at_end(c) && strchr(" \t\r\n", c->s[c->pos]) && c->s[c->pos])
        step(c);
}

static int hex4(const struct cursor *c, uint32_t *out)
{
    if (c->pos + 4 > c->len)
        return -1;
    uint32_t v = 0;
    for (size_t i = 0; i < 4; i++) {
        char h = c->s[c->pos + i];
        int d = h >= '0' && h <= '9'   ? h - '0'
                : h >= 'a' && h <= 'f' ? h - 'a' + 10
                : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + (uint32_t)d;
    }
    *out = v;
    return 0;
}

static void put_utf8(struct td_buf *b, uint32_t cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    td_buf_append(b, u, n);
}

/* Reads the string at the cursor (on its opening quote); decodes it into out
 * when out is not NULL. Returns 0, or -1 when it is not a string. */
static int read_string(struct cursor *c, struct td_buf *out)
{
    if (peek(c) != '"')
        return -1;
    step(c);
    while (!at_end(c)) {
        char ch = c->s[c->pos];
        if (ch == '"') {
            step(c);
            return 0;
        }
        if (ch != '\\') {
            if (out)
                td_buf_append(out, &ch, 1);
            step(c);
            continue;
        }
        step(c);
        if (at_end(c))
            return -1;
        char e = c->s[c->pos];
        step(c);
        const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
        const char *hit = e ? strchr(from, e) : NULL;
        if (hit) {
            if (out)
                td_buf_append(out, to + (hit - from), 1);
            continue;
        }
        uint32_t cp;
        if (e != 'u' || hex4(c, &cp) < 0)
            return -1;
        c->pos += 4;
        if (cp >= 0xD800 && cp < 0xDC00 && c->pos + 6 <= c->len && c->s[c->pos] == '\\' &&
            c->s[c->pos + 1] == 'u') {
            struct cursor low = *c;
            low.pos += 2;
            uint32_t lo;
            if (hex4(&low, &lo) == 0 && lo >= 0xDC00 && lo < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                c->pos += 6;
            }
        }
        if (out)
            put_utf8(out, cp);
    }
    return -1;
}

/* Skips the value at the cursor: a string, a scalar, or a whole object or
 * array (by counting brackets, without recursion). Returns 0 or -1. */
static int skip_value(struct cursor *c)
{
    char first = peek(c);
    if (first == '"')
        return read_string(c, NULL);
    if (first != '{' && first != '[') {
        size_t start = c->pos;
        while (!at_end(c) && !strchr(",}] \t\r\n", c->s[c->pos]) && c->s[c->pos])
            step(c);
        return c->pos > start ? 0 : -1;
    }
    size_t depth = 0;
    while (!at_end(c)) {
        char ch = c->s[c->pos];
        if (ch == '"') {
            if (read_string(c, NULL) < 0)
                return -1;
            continue;
        }
        if (ch == '{' || ch == '[') {
            depth++;
        } else if (ch == '}' || ch == ']') {
            if (--depth == 0) {
                step(c);
                return 0;
            }
        }
        step(c);
    }
    return -1;
}

/* After a member or element: moves past the ',' that must follow. Returns 0
 * on a ',', -1 at the end of the container or on anything else. */
static int next_item(struct cursor *c)
{
    skip_space(c);
    if (peek(c) != ',')
        return -1;
    step(c);
    skip_space(c);
    return 0;
}

/* Finds element index of the array at the cursor; leaves the cursor on it.
 * Returns its line or 0. */
static int find_element(struct cursor *c, size_t index)
{
    if (peek(c) != '[')
        return 0;
    step(c);
    skip_space(c);
    if (peek(c) == ']')
        return 0;
    for (size_t i = 0;; i++) {
        if (at_end(c))
            return 0;
        if (i == index)
            return c->line;
        if (skip_value(c) < 0 || next_item(c) < 0)
            return 0;
    }
}

/* Finds member key (klen bytes) of the object at the cursor; leaves the
 * cursor on its value. Returns the line of its key or 0. */
static int find_member(struct cursor *c, const char *key, size_t klen, struct td_buf *name)
{
    if (peek(c) != '{')
        return 0;
    step(c);
    skip_space(c);
    if (peek(c) == '}')
        return 0;
    for (;;) {
        int line = c->line;
        name->len = 0;
        if (name->data)
            name->data[0] = '\0';
        if (read_string(c, name) < 0 || name->failed)
            return 0;
        skip_space(c);
        if (peek(c) != ':')
            return 0;
        step(c);
        skip_space(c);
        if (name->len == klen && memcmp(td_buf_str(name), key, klen) == 0)
            return line;
        if (skip_value(c) < 0 || next_item(c) < 0)
            return 0;
    }
}

int td_json_locate(const char *text, size_t len, const char *path)
{
    struct cursor c = {text, len, 0, 1};
    struct td_buf name = {0};
    skip_space(&c);
    int line = at_end(&c) ? 0 : c.line;
    const char *p = path;
    while (line && *p) {
        if (*p == '[') {
            size_t index = 0, digits = 0;
            for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
                if (index > SIZE_MAX / 10 - 1)
                    break;
                index = index * 10 + (size_t)(*p - '0');
            }
            if (!digits || *p != ']') {
                line = 0;
                break;
            }
            p++;
            line = find_element(&c, index);
        } else {
            size_t klen = strcspn(p, ".[");
            line = find_member(&c, p, klen, &name);
            p += klen;
        }
        if (*p == '.')
            p++;
    }
    td_buf_reset(&name);
    return line;
}
