/* csv: reads CSV records (RFC 4180: comma-separated, fields in double quotes
 * may hold commas, line breaks and "" for a quote). A quoted field must be
 * closed, and its closing quote followed by a comma or the end of the line;
 * a record that breaks that is refused with the line its quoted field starts
 * on, and reading goes on with the line after that one. */
#ifndef TD_CSV_H
#define TD_CSV_H

#include <stdio.h>

/* What is wrong with a record td_csv_next refused. */
enum td_csv_fault {
    TD_CSV_FINE = 0,
    /* a quoted field runs to the end of the file, or to a quote on a later
     * line that is not the end of a field (or leaves the record with the
     * wrong number of fields): where the following records begin is a guess */
    TD_CSV_UNCLOSED_QUOTE,
    /* text after the closing quote, on the same line: only that line is bad */
    TD_CSV_TEXT_AFTER_QUOTE,
};

struct td_csv_record {
    char **fields;
    size_t count;
    size_t cap;
    int line;                /* the line the record starts on; for a fault, where it is */
    enum td_csv_fault fault; /* set when td_csv_next returned -EINVAL */
};

struct td_csv_reader;

/* Creates a reader of f (borrowed: the caller closes it). Returns NULL when
 * out of memory. */
struct td_csv_reader *td_csv_reader_create(FILE *f);

/* Frees a reader; NULL is a no-op. */
void td_csv_reader_destroy(struct td_csv_reader *r);

/* After the header: a record whose quoted field spans lines but that does
 * not have count fields is taken for an unclosed quote. 0: no such check. */
void td_csv_reader_expect(struct td_csv_reader *r, size_t count);

/* Reads the next record into rec (reusing its storage). Returns 1 for a
 * record, 0 at the end, -EINVAL for a refused record (rec->fault and
 * rec->line say what and where; the next call reads the line after it), or
 * -ENOMEM. */
int td_csv_next(struct td_csv_reader *r, struct td_csv_record *rec);

/* Bytes of the file the records read so far cover (for progress). */
long td_csv_reader_offset(const struct td_csv_reader *r);

/* The reason for a fault, for people: "a quoted field is not closed". */
const char *td_csv_fault_text(enum td_csv_fault fault);

/* Frees a record's storage. */
void td_csv_record_clear(struct td_csv_record *rec);

#endif
