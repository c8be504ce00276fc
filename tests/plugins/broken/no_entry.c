/* A shared object without td_plugin_entry: the loader must refuse it. */
__attribute__((visibility("default"))) int not_the_entry(void);

int not_the_entry(void)
{
    return 42;
}
