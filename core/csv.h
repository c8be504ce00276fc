/* csv: reads CSV records (RFC 4180: comma-separated, fields in double quotes
 * may hold commas, line breaks and "" for a quote). */
#ifndef TD_CSV_H
#define TD_CSV_H

#include <stdio.h>

struct td_csv_record {
    char **fields;
    size_t count;
    size_t cap;
    int line; /* the line the record starts on */
};

/* Reads the next record from f into rec (reusing its storage). *line counts
 * lines read so far. Returns 1 for a record, 0 at the end, -EINVAL for an
 * unterminated quote (rec->line says where it began), -ENOMEM. */
int td_csv_read(FILE *f, int *line, struct td_csv_record *rec);

/* Frees a record's storage. */
void td_csv_record_clear(struct td_csv_record *rec);

#endif
