/* Unit tests of the JSON line locator: paths into objects and arrays,
 * strings with escaped quotes and brackets, nested arrays, and paths that do
 * not exist (no line then). */
#include "check.h"
#include "util/json_locate.h"

#include <string.h>

static int at(const char *text, const char *path)
{
    return td_json_locate(text, strlen(text), path);
}

static void test_members_and_elements(void)
{
    const char *doc = "{\n"                                        /* 1 */
                      "  \"sequences\": [\n"                       /* 2 */
                      "    { \"key\": \"a\",\n"                    /* 3 */
                      "      \"steps\": [\n"                       /* 4 */
                      "        { \"id\": \"x\" },\n"               /* 5 */
                      "        { \"id\": \"y\",\n"                 /* 6 */
                      "          \"at\": {\n"                      /* 7 */
                      "            \"from\": \"start\",\n"         /* 8 */
                      "            \"offset\": \"-7x\" } } ] },\n" /* 9 */
                      "    { \"key\": \"b\" }\n"                   /* 10 */
                      "  ],\n"                                     /* 11 */
                      "  \"templates\": []\n"                      /* 12 */
                      "}\n";
    CHECK(at(doc, "") == 1);
    CHECK(at(doc, "sequences") == 2);
    CHECK(at(doc, "sequences[0]") == 3);
    CHECK(at(doc, "sequences[0].key") == 3);
    CHECK(at(doc, "sequences[0].steps") == 4);
    CHECK(at(doc, "sequences[0].steps[0]") == 5);
    CHECK(at(doc, "sequences[0].steps[1]") == 6);
    CHECK(at(doc, "sequences[0].steps[1].at") == 7);
    CHECK(at(doc, "sequences[0].steps[1].at.from") == 8);
    CHECK(at(doc, "sequences[0].steps[1].at.offset") == 9);
    CHECK(at(doc, "sequences[1]") == 10);
    CHECK(at(doc, "sequences[1].key") == 10);
    CHECK(at(doc, "templates") == 12);
}

static void test_strings_that_look_like_structure(void)
{
    /* quotes, backslashes, brackets, commas and a newline escape inside strings */
    const char *doc = "{\"a\": \"x \\\"}, [\\\"\\\\\",\n"
                      " \"b\\\"c\": 1,\n"
                      " \"text\": \"{\\\"not\\\": \\\"a key\\\"}\\n\",\n"
                      " \"not\": [\"],[\", \"\\\\\"],\n"
                      " \"k\\u00e9y\": true,\n"
                      " \"\\ud83d\\ude00\": null,\n"
                      " \"end\": 0}";
    CHECK(at(doc, "a") == 1);
    CHECK(at(doc, "b\"c") == 2);
    CHECK(at(doc, "text") == 3);
    CHECK(at(doc, "not") == 4);
    CHECK(at(doc, "not[1]") == 4);
    CHECK(at(doc, "k\xc3\xa9y") == 5);
    CHECK(at(doc, "\xf0\x9f\x98\x80") == 6);
    CHECK(at(doc, "end") == 7);
    CHECK(at(doc, "b") == 0);
}

static void test_nested_arrays(void)
{
    const char *doc = "[\n"
                      "  [1, [2,\n"
                      "       3]],\n"
                      "  [[],\n"
                      "   [[{\"deep\":\n"
                      "      [0, 1]}]]]\n"
                      "]";
    CHECK(at(doc, "[0]") == 2);
    CHECK(at(doc, "[0][1]") == 2);
    CHECK(at(doc, "[0][1][1]") == 3);
    CHECK(at(doc, "[1]") == 4);
    CHECK(at(doc, "[1][1][0][0].deep") == 5);
    CHECK(at(doc, "[1][1][0][0].deep[1]") == 6);
    CHECK(at(doc, "[1][0][0]") == 0);
}

static void test_paths_that_do_not_exist(void)
{
    const char *doc = "{\"sequences\": [{\"key\": \"a\"}], \"n\": 5}";
    CHECK(at(doc, "sequences[1]") == 0);
    CHECK(at(doc, "sequences[0].name") == 0);
    CHECK(at(doc, "sequences.key") == 0); /* an array, not an object */
    CHECK(at(doc, "n[0]") == 0);          /* a number, not an array */
    CHECK(at(doc, "n.x") == 0);           /* a number, not an object */
    CHECK(at(doc, "missing") == 0);
    CHECK(at(doc, "sequences[x]") == 0); /* not an index */
    CHECK(at(doc, "sequences[0") == 0);  /* unclosed index */
    CHECK(at(doc, "sequences[99999999999999999999999]") == 0);
    CHECK(at("", "") == 0);
    CHECK(at("   \n ", "a") == 0);
    /* text that is not JSON far enough: no line, and no reading past the end */
    CHECK(at("{\"a\": [1, 2", "a[5]") == 0);
    CHECK(at("{\"a\" 1}", "a") == 0);
    CHECK(at("{\"a\": \"unterminated", "b") == 0);
    CHECK(at("{\"a\": \"\\u12", "b") == 0);
    CHECK(td_json_locate("{\"a\": 1}", 4, "a") == 0);
}

static void test_crlf_and_utf8(void)
{
    const char *doc = "{\r\n  \"\xc3\xbc\": 1,\r\n  \"x\": [\r\n    2]\r\n}";
    CHECK(at(doc, "\xc3\xbc") == 2);
    CHECK(at(doc, "x") == 3);
    CHECK(at(doc, "x[0]") == 4);
}

int main(void)
{
    test_members_and_elements();
    test_strings_that_look_like_structure();
    test_nested_arrays();
    test_paths_that_do_not_exist();
    test_crlf_and_utf8();
    return check_exit("test_json_locate");
}
