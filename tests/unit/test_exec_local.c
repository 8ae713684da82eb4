/* placeholder until the module lands: reported as skipped. */
int main(void) { return 77; }
