/* libFuzzer target: the CSV reader of `tidings bookings import` (a file from
 * anywhere), with the field count of its header expected, as the import
 * reads it. Every call reads at least one line, so reading ends; the bytes
 * the records cover add up to the file. */
#include "util/csv.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    FILE *f = fmemopen((void *)data, size, "r");
    if (!f)
        return 0;
    struct td_csv_reader *r = td_csv_reader_create(f);
    struct td_csv_record rec = {0};
    int got = 0, last = 0;
    size_t n = 0;
    while (r && (got = td_csv_next(r, &rec)) != 0 && got != -ENOMEM) {
        /* records and refusals come in file order, one line at least each */
        if (rec.line <= last)
            abort();
        last = rec.line;
        if (got < 0 && td_csv_fault_text(rec.fault)[0] == '\0')
            abort();
        if (n++ == 0 && got > 0)
            td_csv_reader_expect(r, rec.count);
    }
    if (r && got == 0 && td_csv_reader_offset(r) != (long)size)
        abort();
    td_csv_record_clear(&rec);
    td_csv_reader_destroy(r);
    fclose(f);
    return 0;
}
