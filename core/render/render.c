/* render: fills Mustache-style templates from a JSON context. */
#include "render/render.h"

#include "util/buf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define RENDER_MAX_DEPTH 16

enum tag_kind { TAG_VAR, TAG_RAW, TAG_SECTION, TAG_INVERTED, TAG_CLOSE, TAG_COMMENT };

struct tag {
    enum tag_kind kind;
    const char *name; /* trimmed, not NUL-terminated */
    size_t name_len;
    const char *start; /* "{{" */
    const char *end;   /* just past "}}" */
};

struct render_state {
    struct td_buf *out;
    bool html;
    json_t *stack[RENDER_MAX_DEPTH];
    size_t depth;
    char *err;
    size_t errcap;
};

/* Finds the next tag at or after p (before end). Returns 1 found, 0 none,
 * -EINVAL for an unclosed tag. */
static int next_tag(const char *p, const char *end, struct tag *t, char *err, size_t cap)
{
    const char *open = NULL;
    for (const char *q = p; q + 1 < end; q++) {
        if (q[0] == '{' && q[1] == '{') {
            open = q;
            break;
        }
    }
    if (!open)
        return 0;
    const char *body = open + 2;
    bool triple = body < end && *body == '{';
    if (triple)
        body++;
    const char *close = NULL;
    for (const char *q = body; q + 1 < end; q++) {
        if (q[0] == '}' && q[1] == '}') {
            close = q;
            break;
        }
    }
    if (!close || (triple && (close + 2 >= end || close[2] != '}'))) {
        snprintf(err, cap, "unclosed tag at offset %td", open - p);
        return -EINVAL;
    }
    t->start = open;
    t->end = close + 2 + (triple ? 1 : 0);
    t->kind = triple ? TAG_RAW : TAG_VAR;
    const char *n = body;
    if (!triple && n < close) {
        switch (*n) {
        case '#':
            t->kind = TAG_SECTION;
            n++;
            break;
        case '^':
            t->kind = TAG_INVERTED;
            n++;
            break;
        case '/':
            t->kind = TAG_CLOSE;
            n++;
            break;
        case '!':
            t->kind = TAG_COMMENT;
            n++;
            break;
        case '&':
            t->kind = TAG_RAW;
            n++;
            break;
        default: break;
        }
    }
    while (n < close && (*n == ' ' || *n == '\t'))
        n++;
    const char *e = close;
    while (e > n && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    t->name = n;
    t->name_len = (size_t)(e - n);
    if (t->kind != TAG_COMMENT && t->name_len == 0) {
        snprintf(err, cap, "empty tag '%.*s'", (int)(t->end - t->start), t->start);
        return -EINVAL;
    }
    return 1;
}

/* Finds the {{/name}} that closes the section whose body starts at p. */
static int find_close(const char *p, const char *end, const struct tag *open, struct tag *close,
                      char *err, size_t cap)
{
    int depth = 0;
    struct tag t;
    int rc;
    while ((rc = next_tag(p, end, &t, err, cap)) == 1) {
        p = t.end;
        if (t.kind == TAG_SECTION || t.kind == TAG_INVERTED) {
            depth++;
        } else if (t.kind == TAG_CLOSE) {
            if (depth == 0) {
                if (t.name_len != open->name_len || memcmp(t.name, open->name, t.name_len)) {
                    snprintf(err, cap, "section '%.*s' is closed by '%.*s'", (int)open->name_len,
                             open->name, (int)t.name_len, t.name);
                    return -EINVAL;
                }
                *close = t;
                return 0;
            }
            depth--;
        }
    }
    if (rc < 0)
        return rc;
    snprintf(err, cap, "section '%.*s' is never closed", (int)open->name_len, open->name);
    return -EINVAL;
}

/* Looks a (dotted) name up, innermost context first. */
static json_t *lookup(struct render_state *st, const char *name, size_t len)
{
    if (len == 1 && name[0] == '.')
        return st->depth ? st->stack[st->depth - 1] : NULL;
    const char *dot = memchr(name, '.', len);
    size_t first_len = dot ? (size_t)(dot - name) : len;
    json_t *v = NULL;
    for (size_t i = st->depth; i-- > 0;) {
        if (!json_is_object(st->stack[i]))
            continue;
        v = json_object_getn(st->stack[i], name, first_len);
        if (v)
            break;
    }
    while (v && dot) {
        const char *part = dot + 1;
        dot = memchr(part, '.', (size_t)(name + len - part));
        size_t plen = dot ? (size_t)(dot - part) : (size_t)(name + len - part);
        v = json_is_object(v) ? json_object_getn(v, part, plen) : NULL;
    }
    return v;
}

static bool truthy(json_t *v)
{
    if (!v || json_is_null(v) || json_is_false(v))
        return false;
    if (json_is_array(v))
        return json_array_size(v) > 0;
    if (json_is_string(v))
        return json_string_length(v) > 0;
    return true;
}

static void emit_escaped(struct td_buf *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        switch (s[i]) {
        case '&': td_buf_puts(out, "&amp;"); break;
        case '<': td_buf_puts(out, "&lt;"); break;
        case '>': td_buf_puts(out, "&gt;"); break;
        case '"': td_buf_puts(out, "&quot;"); break;
        case '\'': td_buf_puts(out, "&#39;"); break;
        default: td_buf_append(out, &s[i], 1); break;
        }
    }
}

static void emit_value(struct render_state *st, json_t *v, bool escape)
{
    char num[64];
    const char *s = NULL;
    size_t len = 0;
    if (json_is_string(v)) {
        s = json_string_value(v);
        len = json_string_length(v);
    } else if (json_is_integer(v)) {
        len = (size_t)snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        s = num;
    } else if (json_is_real(v)) {
        len = (size_t)snprintf(num, sizeof(num), "%g", json_real_value(v));
        s = num;
    } else if (json_is_boolean(v)) {
        s = json_is_true(v) ? "true" : "false";
        len = strlen(s);
    }
    if (!s)
        return;
    if (escape)
        emit_escaped(st->out, s, len);
    else
        td_buf_append(st->out, s, len);
}

static int render_span(struct render_state *st, const char *p, const char *end);

static int render_section(struct render_state *st, const struct tag *t, const char *body,
                          const char *body_end)
{
    json_t *v = lookup(st, t->name, t->name_len);
    if (t->kind == TAG_INVERTED)
        return truthy(v) ? 0 : render_span(st, body, body_end);
    if (!truthy(v))
        return 0;
    if (st->depth + 1 >= RENDER_MAX_DEPTH) {
        snprintf(st->err, st->errcap, "sections nested deeper than %d", RENDER_MAX_DEPTH);
        return -EINVAL;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item)
        {
            st->stack[st->depth++] = item;
            int rc = render_span(st, body, body_end);
            st->depth--;
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    st->stack[st->depth++] = v;
    int rc = render_span(st, body, body_end);
    st->depth--;
    return rc;
}

static int render_span(struct render_state *st, const char *p, const char *end)
{
    struct tag t;
    int rc;
    while ((rc = next_tag(p, end, &t, st->err, st->errcap)) == 1) {
        td_buf_append(st->out, p, (size_t)(t.start - p));
        p = t.end;
        switch (t.kind) {
        case TAG_VAR:
        case TAG_RAW:
            emit_value(st, lookup(st, t.name, t.name_len), st->html && t.kind == TAG_VAR);
            break;
        case TAG_SECTION:
        case TAG_INVERTED: {
            struct tag close;
            if (find_close(p, end, &t, &close, st->err, st->errcap) < 0)
                return -EINVAL;
            if (render_section(st, &t, p, close.start) < 0)
                return -EINVAL;
            p = close.end;
            break;
        }
        case TAG_CLOSE:
            snprintf(st->err, st->errcap, "'{{/%.*s}}' closes no open section", (int)t.name_len,
                     t.name);
            return -EINVAL;
        case TAG_COMMENT: break;
        }
    }
    if (rc < 0)
        return rc;
    td_buf_append(st->out, p, (size_t)(end - p));
    return 0;
}

int td_render(const char *tmpl, json_t *ctx, bool html, char **out, char *err, size_t errcap)
{
    *out = NULL;
    struct td_buf b = {0};
    struct render_state st = {.out = &b, .html = html, .err = err, .errcap = errcap};
    st.stack[st.depth++] = ctx;
    int rc = render_span(&st, tmpl, tmpl + strlen(tmpl));
    if (rc < 0) {
        td_buf_reset(&b);
        return rc;
    }
    td_buf_puts(&b, "");
    *out = td_buf_take(&b);
    return *out ? 0 : -ENOMEM;
}

int td_render_names(const char *tmpl, td_render_name_fn fn, void *ctx, char *err, size_t errcap)
{
    const char *p = tmpl;
    const char *end = tmpl + strlen(tmpl);
    struct tag t;
    struct tag open[RENDER_MAX_DEPTH];
    size_t depth = 0;
    int rc;
    while ((rc = next_tag(p, end, &t, err, errcap)) == 1) {
        p = t.end;
        if (t.kind == TAG_CLOSE) {
            if (depth == 0) {
                snprintf(err, errcap, "'{{/%.*s}}' closes no open section", (int)t.name_len,
                         t.name);
                return -EINVAL;
            }
            depth--;
            continue;
        }
        if (t.kind == TAG_COMMENT || (t.name_len == 1 && t.name[0] == '.'))
            continue;
        const struct tag *inner = depth ? &open[depth - 1] : NULL;
        int r =
            fn(ctx, t.name, t.name_len, inner ? inner->name : NULL, inner ? inner->name_len : 0);
        if (r)
            return r;
        if (t.kind == TAG_SECTION || t.kind == TAG_INVERTED) {
            struct tag close;
            if (find_close(p, end, &t, &close, err, errcap) < 0)
                return -EINVAL;
            if (depth == RENDER_MAX_DEPTH) {
                snprintf(err, errcap, "sections nested deeper than %d", RENDER_MAX_DEPTH);
                return -EINVAL;
            }
            open[depth++] = t;
        }
    }
    return rc < 0 ? rc : 0;
}
