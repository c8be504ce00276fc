/* csv: reads CSV records (RFC 4180), refusing quotes that are not closed. */
#include "util/csv.h"

#include "util/buf.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* One physical line of the file, with its line break. */
struct csv_line {
    char *text;
    size_t len;
    int number;
};

struct line_list {
    struct csv_line *items;
    size_t count;
    size_t cap;
};

struct td_csv_reader {
    FILE *f;
    int line;                 /* lines read from f so far */
    struct line_list pending; /* lines given back, read again before f (in order) */
    size_t pending_head;
    struct line_list taken; /* the lines of the record being read */
    size_t expect;
    long offset;
};

static int list_push(struct line_list *l, struct csv_line line)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        struct csv_line *p = realloc(l->items, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        l->items = p;
        l->cap = cap;
    }
    l->items[l->count++] = line;
    return 0;
}

static void list_clear(struct line_list *l, size_t from)
{
    for (size_t i = from; i < l->count; i++)
        free(l->items[i].text);
    l->count = from;
}

struct td_csv_reader *td_csv_reader_create(FILE *f)
{
    struct td_csv_reader *r = calloc(1, sizeof(*r));
    if (r)
        r->f = f;
    return r;
}

void td_csv_reader_destroy(struct td_csv_reader *r)
{
    if (!r)
        return;
    list_clear(&r->pending, r->pending_head);
    free(r->pending.items);
    list_clear(&r->taken, 0);
    free(r->taken.items);
    free(r);
}

void td_csv_reader_expect(struct td_csv_reader *r, size_t count)
{
    r->expect = count;
}

long td_csv_reader_offset(const struct td_csv_reader *r)
{
    return r->offset;
}

/* Takes the next physical line (given back ones first) onto r->taken.
 * Returns 1, 0 at the end of the file, or -ENOMEM. */
static int take_line(struct td_csv_reader *r)
{
    struct csv_line line;
    if (r->pending_head < r->pending.count) {
        line = r->pending.items[r->pending_head++];
        if (r->pending_head == r->pending.count)
            r->pending_head = r->pending.count = 0;
    } else {
        char *text = NULL;
        size_t cap = 0;
        errno = 0;
        ssize_t n = getline(&text, &cap, r->f);
        if (n <= 0) {
            free(text);
            return n < 0 && errno == ENOMEM ? -ENOMEM : 0;
        }
        line = (struct csv_line){text, (size_t)n, ++r->line};
    }
    if (list_push(&r->taken, line) < 0) {
        free(line.text);
        return -ENOMEM;
    }
    r->offset += (long)line.len;
    return 1;
}

/* Gives back the taken lines after line number, to be read again. */
static int give_back_after(struct td_csv_reader *r, int number)
{
    struct line_list back = {0};
    size_t keep = r->taken.count;
    for (size_t i = 0; i < r->taken.count; i++) {
        if (r->taken.items[i].number <= number)
            continue;
        if (keep == r->taken.count)
            keep = i;
        if (list_push(&back, r->taken.items[i]) < 0) {
            free(back.items);
            return -ENOMEM;
        }
        r->offset -= (long)r->taken.items[i].len;
    }
    /* the lines given back come before those given back earlier */
    for (size_t i = r->pending_head; i < r->pending.count; i++) {
        if (list_push(&back, r->pending.items[i]) < 0) {
            free(back.items);
            return -ENOMEM;
        }
    }
    r->taken.count = keep;
    free(r->pending.items);
    r->pending = back;
    r->pending_head = 0;
    return 0;
}

static int record_push(struct td_csv_record *rec, struct td_buf *field)
{
    if (rec->count == rec->cap) {
        size_t cap = rec->cap ? rec->cap * 2 : 16;
        char **p = realloc(rec->fields, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        rec->fields = p;
        rec->cap = cap;
    }
    td_buf_puts(field, "");
    char *s = td_buf_take(field);
    if (!s)
        return -ENOMEM;
    rec->fields[rec->count++] = s;
    return 0;
}

static void record_reset(struct td_csv_record *rec)
{
    for (size_t i = 0; i < rec->count; i++)
        free(rec->fields[i]);
    rec->count = 0;
    rec->fault = TD_CSV_FINE;
}

/* Refuses the record being read: fault at line; an unclosed quote gives
 * back every line after its own. */
static int refuse(struct td_csv_reader *r, struct td_csv_record *rec, enum td_csv_fault fault,
                  int line)
{
    record_reset(rec);
    rec->fault = fault;
    rec->line = line;
    if (fault == TD_CSV_UNCLOSED_QUOTE && give_back_after(r, line) < 0)
        return -ENOMEM;
    return -EINVAL;
}

/* What parsing a record has seen. */
struct parse {
    struct td_buf field;
    bool quoted, after_quote;
    int quote_line;  /* where the current quoted field opened */
    int close_line;  /* where it closed */
    int spans_line;  /* where the first quoted field that spans lines opened, or 0 */
    const char *s;   /* the current line */
    size_t len, pos; /* its length, the position in it */
    int number;      /* its number */
};

/* Moves p on to the line just taken. */
static void parse_line(struct parse *p, const struct csv_line *line)
{
    p->s = line->text;
    p->len = line->len;
    p->pos = 0;
    p->number = line->number;
}

/* Reads inside a quoted field: up to its closing quote, taking more lines
 * while it spans them. Returns 1 when closed, 0 at the end of the file, or
 * -ENOMEM. */
static int parse_quoted(struct td_csv_reader *r, struct parse *p)
{
    for (;;) {
        if (p->pos == p->len) {
            int got = take_line(r);
            if (got <= 0)
                return got;
            if (!p->spans_line)
                p->spans_line = p->quote_line;
            parse_line(p, &r->taken.items[r->taken.count - 1]);
        }
        char c = p->s[p->pos++];
        if (c != '"') {
            td_buf_append(&p->field, &c, 1);
        } else if (p->pos < p->len && p->s[p->pos] == '"') {
            td_buf_append(&p->field, "\"", 1);
            p->pos++;
        } else {
            p->close_line = p->number;
            return 1;
        }
    }
}

int td_csv_next(struct td_csv_reader *r, struct td_csv_record *rec)
{
    record_reset(rec);
    list_clear(&r->taken, 0);
    int got = take_line(r);
    if (got <= 0)
        return got;
    struct parse p = {0};
    parse_line(&p, &r->taken.items[0]);
    rec->line = p.number;
    int rc = 1;
    for (;;) {
        if (p.quoted) {
            got = parse_quoted(r, &p);
            if (got < 0)
                goto out_nomem;
            if (got == 0) {
                rc = refuse(r, rec, TD_CSV_UNCLOSED_QUOTE, p.quote_line);
                break;
            }
            p.quoted = false;
            p.after_quote = true;
            continue;
        }
        bool end = p.pos == p.len;
        char c = end ? '\n' : p.s[p.pos++];
        if (c == '\r' && (p.pos == p.len || p.s[p.pos] == '\n'))
            continue; /* the \r of \r\n, or of a last line without \n */
        if (p.after_quote && c != ',' && c != '\n') {
            /* a quote that opened on an earlier line and closes here, inside
             * a field, was never closed where it should have been */
            rc = refuse(r, rec,
                        p.close_line != p.quote_line ? TD_CSV_UNCLOSED_QUOTE
                                                     : TD_CSV_TEXT_AFTER_QUOTE,
                        p.quote_line);
            break;
        }
        if (c == '"' && p.field.len == 0 && !p.after_quote) {
            p.quoted = true;
            p.quote_line = p.number;
        } else if (c == ',' || c == '\n') {
            if (record_push(rec, &p.field) < 0)
                goto out_nomem;
            p.after_quote = false;
            if (c == '\n')
                break;
        } else {
            td_buf_append(&p.field, &c, 1);
        }
    }
    if (rc == 1 && p.spans_line && r->expect && rec->count != r->expect)
        rc = refuse(r, rec, TD_CSV_UNCLOSED_QUOTE, p.spans_line);
    if (p.field.failed)
        goto out_nomem;
    td_buf_reset(&p.field);
    return rc;
out_nomem:
    td_buf_reset(&p.field);
    record_reset(rec);
    return -ENOMEM;
}

const char *td_csv_fault_text(enum td_csv_fault fault)
{
    switch (fault) {
    case TD_CSV_UNCLOSED_QUOTE: return "a quoted field is not closed";
    case TD_CSV_TEXT_AFTER_QUOTE:
        return "text after the closing quote of a quoted field (a quote inside one is written "
               "\"\")";
    case TD_CSV_FINE:
    default: return "no fault";
    }
}

void td_csv_record_clear(struct td_csv_record *rec)
{
    record_reset(rec);
    free(rec->fields);
    memset(rec, 0, sizeof(*rec));
}
