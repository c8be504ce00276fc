/* csv: reads CSV records (RFC 4180). */
#include "csv.h"

#include "buf.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

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
}

int td_csv_read(FILE *f, int *line, struct td_csv_record *rec)
{
    record_reset(rec);
    struct td_buf field = {0};
    bool quoted = false, any = false, after_quote = false;
    rec->line = *line + 1;
    int c;
    while ((c = fgetc(f)) != EOF) {
        any = true;
        if (quoted) {
            if (c == '"') {
                int next = fgetc(f);
                if (next == '"') {
                    td_buf_append(&field, "\"", 1);
                } else {
                    quoted = false;
                    after_quote = true;
                    if (next != EOF)
                        ungetc(next, f);
                }
            } else {
                if (c == '\n')
                    (*line)++;
                char ch = (char)c;
                td_buf_append(&field, &ch, 1);
            }
            continue;
        }
        if (c == '"' && field.len == 0 && !after_quote) {
            quoted = true;
        } else if (c == ',') {
            if (record_push(rec, &field) < 0)
                goto out_nomem;
            after_quote = false;
        } else if (c == '\n') {
            (*line)++;
            if (field.len && field.data[field.len - 1] == '\r')
                field.data[--field.len] = '\0';
            if (record_push(rec, &field) < 0)
                goto out_nomem;
            return 1;
        } else {
            char ch = (char)c;
            td_buf_append(&field, &ch, 1);
        }
    }
    if (quoted) {
        td_buf_reset(&field);
        return -EINVAL;
    }
    if (!any)
        return 0;
    (*line)++;
    if (record_push(rec, &field) < 0)
        goto out_nomem;
    return 1;
out_nomem:
    td_buf_reset(&field);
    return -ENOMEM;
}

void td_csv_record_clear(struct td_csv_record *rec)
{
    record_reset(rec);
    free(rec->fields);
    memset(rec, 0, sizeof(*rec));
}
