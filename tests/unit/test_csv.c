/* Unit tests of the CSV reader: RFC 4180 fields, and quotes that are not
 * closed refused with the line they open on, reading going on after it. */
#include "check.h"
#include "util/csv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Reads all of text; writes one line per record to out: "2:a|b" for a
 * record, "4:!unclosed" or "4:!after" for a refused one. Returns the count
 * of records and refusals. */
static int read_all(const char *text, size_t expect, char *out, size_t cap)
{
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    struct td_csv_reader *r = td_csv_reader_create(f);
    struct td_csv_record rec = {0};
    size_t used = 0;
    int n = 0, got;
    out[0] = '\0';
    td_csv_reader_expect(r, expect);
    while ((got = td_csv_next(r, &rec)) != 0 && got != -ENOMEM) {
        n++;
        if (got < 0) {
            used += (size_t)snprintf(out + used, cap - used, "%d:!%s\n", rec.line,
                                     rec.fault == TD_CSV_UNCLOSED_QUOTE ? "unclosed" : "after");
            continue;
        }
        used += (size_t)snprintf(out + used, cap - used, "%d:", rec.line);
        for (size_t i = 0; i < rec.count; i++)
            used += (size_t)snprintf(out + used, cap - used, "%s%s", i ? "|" : "", rec.fields[i]);
        used += (size_t)snprintf(out + used, cap - used, "\n");
    }
    CHECK(got == 0);
    CHECK(td_csv_reader_offset(r) == (long)strlen(text));
    td_csv_record_clear(&rec);
    td_csv_reader_destroy(r);
    fclose(f);
    return n;
}

static void test_fields(void)
{
    char out[1024];
    CHECK(read_all("a,b,c\n\"x, y\",\"say \"\"hi\"\"\",\r\n,,\nlast,\"\",z", 0, out, sizeof(out)) ==
          4);
    CHECK_STR(out, "1:a|b|c\n2:x, y|say \"hi\"|\n3:||\n4:last||z\n");
    /* a quoted field may hold a line break, and the record then has the right count */
    CHECK(read_all("id,note\n1,\"two\nlines\"\n2,x\n", 2, out, sizeof(out)) == 3);
    CHECK_STR(out, "1:id|note\n2:1|two\nlines\n4:2|x\n");
    /* a quote inside an unquoted field is only a character */
    CHECK(read_all("12\" pizza,b\n", 0, out, sizeof(out)) == 1);
    CHECK_STR(out, "1:12\" pizza|b\n");
    CHECK(read_all("", 0, out, sizeof(out)) == 0);
    CHECK(read_all("\n", 0, out, sizeof(out)) == 1);
    CHECK_STR(out, "1:\n");
}

static void test_unclosed_quote_at_the_end(void)
{
    char out[1024];
    /* 8 lines: the quote of line 4 never closes; lines 5 to 8 are read after it */
    const char *text = "id,name\n"
                       "1,a\n"
                       "2,b\n"
                       "3,\"never closed\n"
                       "5,e\n"
                       "6,f\n"
                       "7,g\n"
                       "8,h\n";
    CHECK(read_all(text, 2, out, sizeof(out)) == 8);
    CHECK_STR(out, "1:id|name\n2:1|a\n3:2|b\n4:!unclosed\n5:5|e\n6:6|f\n7:7|g\n8:8|h\n");
    /* without a line break at the end */
    CHECK(read_all("a\n\"b", 0, out, sizeof(out)) == 2);
    CHECK_STR(out, "1:a\n2:!unclosed\n");
}

static void test_unclosed_quote_meets_a_later_one(void)
{
    char out[1024];
    /* line 4's quote would close at line 6's opening quote, inside a field */
    const char *text = "id,name,boat\n"
                       "1,a,x\n"
                       "2,b,x\n"
                       "3,\"Anna,x\n"
                       "5,e,x\n"
                       "6,\"Hansa 2\",x\n"
                       "7,g,x\n"
                       "8,h,x\n";
    CHECK(read_all(text, 3, out, sizeof(out)) == 8);
    CHECK_STR(out,
              "1:id|name|boat\n2:1|a|x\n3:2|b|x\n4:!unclosed\n5:5|e|x\n6:6|Hansa 2|x\n7:7|g|x\n"
              "8:8|h|x\n");
    /* ... or at a quote that ends a field, leaving the record with too many fields */
    text = "id,name\n"
           "3,\"Anna\n"
           "5,e\n"
           "6,x\",y\n"
           "7,g\n";
    CHECK(read_all(text, 2, out, sizeof(out)) == 5);
    CHECK_STR(out, "1:id|name\n2:!unclosed\n3:5|e\n4:6|x\"|y\n5:7|g\n");
}

static void test_text_after_the_closing_quote(void)
{
    char out[1024];
    /* the inner quotes are not doubled: only this line is bad */
    CHECK(read_all("1,\"Anna \"the boss\" Berg\",x\n2,\"odd \"one,y\n3,c,z\n", 3, out,
                   sizeof(out)) == 3);
    CHECK_STR(out, "1:!after\n2:!after\n3:3|c|z\n");
    CHECK_STR(td_csv_fault_text(TD_CSV_UNCLOSED_QUOTE), "a quoted field is not closed");
}

static void test_given_back_lines_fault_again(void)
{
    char out[1024];
    /* the lines given back after line 1 hold an unclosed quote of their own */
    CHECK(read_all("\"a\nb\n\"c\nd\n", 0, out, sizeof(out)) == 4);
    CHECK_STR(out, "1:!unclosed\n2:b\n3:!unclosed\n4:d\n");
}

int main(void)
{
    test_fields();
    test_unclosed_quote_at_the_end();
    test_unclosed_quote_meets_a_later_one();
    test_text_after_the_closing_quote();
    test_given_back_lines_fault_again();
    return check_exit("test_csv");
}
