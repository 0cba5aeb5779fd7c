/* example.c — a complete tcap client: version check, command ids, risk from flags, error handling.
 * Build: cc -std=c11 example.c $(pkg-config --cflags --libs tcap) -o example */
#include <stdio.h>
#include <string.h>

#include <tcap.h>

/* Upstream TCP descriptors (spec layout) carry the command id at bytes 6..10 and the security flags at
 * bytes 10..14, big-endian. These two are real: `rm` and `cat`. */
static const struct {
    const char *name;
    uint32_t id;
    uint32_t flags;
} known[] = {
    {"rm", 0xd67f249bu, 0x000006d0u},
    {"cat", 0xd077f244u, 0x00000002u},
};

int main(void) {
    /* The header we compiled against must match the library we run against. */
    if (tcap_version_number() != TCAP_VERSION_NUMBER) {
        fprintf(stderr, "header %s, library %s\n", TCAP_VERSION_STRING, tcap_version());
        return 1;
    }
    printf("tcap %s\n", tcap_version());

    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        uint32_t id = 0;
        tcap_result rc = tcap_command_id((const uint8_t *)known[i].name, strlen(known[i].name), &id);
        if (rc != TCAP_RESULT_OK) {
            fprintf(stderr, "tcap_command_id: %s\n", tcap_result_str(rc));
            return 1;
        }
        char text[TCAP_FLAGS_FORMAT_MAX];
        size_t text_len = 0;
        rc = tcap_flags_format(known[i].flags, text, sizeof text, &text_len);
        if (rc != TCAP_RESULT_OK) {
            fprintf(stderr, "tcap_flags_format: %s\n", tcap_result_str(rc));
            return 1;
        }
        tcap_risk risk = tcap_flags_risk(known[i].flags);
        printf("%-4s id=%08x %s risk=%s %s\n", known[i].name, (unsigned)id,
               id == known[i].id ? "(matches descriptor)" : "(MISMATCH)", tcap_risk_name(risk), text);
        if (id != known[i].id) {
            return 1;
        }
    }

    /* Errors are values, never crashes: a NULL output is refused and reported. */
    tcap_result rc = tcap_command_id((const uint8_t *)"ls", 2, NULL);
    printf("NULL output -> %u (%s)\n", (unsigned)rc, tcap_result_str(rc));
    return rc == TCAP_RESULT_NULL_ARGUMENT ? 0 : 1;
}
