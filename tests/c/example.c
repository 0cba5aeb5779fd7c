/* example.c — a complete tcap client: the built-in registry, an engine for three agents on a static
 * buffer, a few tool calls checked before they run, their outcomes reported, errors handled.
 * Build: cc -std=c11 example.c $(pkg-config --cflags --libs tcap) -o example */
#include <stdalign.h>
#include <stdio.h>
#include <string.h>

#include <tcap.h>

#define N_AGENTS 3

/* The engine lives here: tcap never allocates. 64 bytes per agent plus a small header. */
static alignas(TCAP_ENGINE_ALIGN) unsigned char engine_mem[4096];

static int fail(const char *what, tcap_result rc) {
    fprintf(stderr, "%s: %s (%u)\n", what, tcap_result_str(rc), (unsigned)rc);
    return 1;
}

int main(void) {
    /* The header we compiled against must match the library we run against. */
    if (tcap_version_number() != TCAP_VERSION_NUMBER) {
        fprintf(stderr, "header %s, library %s\n", TCAP_VERSION_STRING, tcap_version());
        return 1;
    }

    tcap_registry reg;
    tcap_result rc = tcap_registry_builtin(&reg);
    if (rc != TCAP_RESULT_OK) return fail("tcap_registry_builtin", rc);
    size_t n_commands = 0;
    rc = tcap_registry_len(&reg, &n_commands);
    if (rc != TCAP_RESULT_OK) return fail("tcap_registry_len", rc);

    size_t size = 0;
    rc = tcap_engine_size(N_AGENTS, &size);
    if (rc != TCAP_RESULT_OK) return fail("tcap_engine_size", rc);
    if (size > sizeof engine_mem) {
        fprintf(stderr, "engine needs %zu bytes\n", size);
        return 1;
    }
    tcap_engine *engine = NULL;
    rc = tcap_engine_init(engine_mem, sizeof engine_mem, N_AGENTS, &reg, NULL /* defaults */, &engine);
    if (rc != TCAP_RESULT_OK) return fail("tcap_engine_init", rc);
    printf("tcap %s: %zu built-in commands, engine for %d agents in %zu bytes\n", tcap_version(), n_commands,
           N_AGENTS, size);

    /* Tool calls as an agent framework would see them: (agent, command line). */
    static const struct {
        uint32_t agent;
        const char *line;
    } calls[] = {
        {0, "ls -la /srv"},       {0, "git status"},    {1, "curl https://example.com"},
        {1, "rm -rf /var/lib/x"}, {2, "frobnicate --all"}, {2, "cat notes.txt"},
    };
    uint64_t now_us = 1000000; /* the caller's monotonic clock */
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        now_us += 250000;
        /* Resolve the command line to its registered command ("git status", "rm", ...). */
        tcap_entry entry;
        size_t matched = 0;
        const uint8_t *line = (const uint8_t *)calls[i].line;
        rc = tcap_registry_resolve(&reg, line, strlen(calls[i].line), &entry, &matched);
        uint32_t id = 0;
        if (rc == TCAP_RESULT_OK) {
            id = entry.id;
        } else if (rc == TCAP_RESULT_NOT_FOUND) {
            /* Unknown to the registry: check it anyway, by the id of its first word. tcap never allows it. */
            size_t word = strcspn(calls[i].line, " ");
            rc = tcap_command_id(line, word, &id);
            if (rc != TCAP_RESULT_OK) return fail("tcap_command_id", rc);
        } else {
            return fail("tcap_registry_resolve", rc);
        }

        tcap_verdict v;
        rc = tcap_engine_check(engine, now_us, calls[i].agent, id, &v);
        if (rc != TCAP_RESULT_OK) return fail("tcap_engine_check", rc);
        int run = v.decision == TCAP_DECISION_ALLOW || v.decision == TCAP_DECISION_CAUTION;
        printf("agent %u %-26s risk=%-11s decision=%-16s agent=%s reasons=0x%03x\n", (unsigned)calls[i].agent,
               calls[i].line, tcap_risk_name(v.risk), tcap_decision_name(v.decision),
               tcap_agent_status_name(v.agent_state), (unsigned)v.reasons);

        /* Report how it ended: ran successfully, or refused by the host. */
        rc = tcap_engine_observe(engine, now_us + 1000, calls[i].agent,
                                 run ? TCAP_OUTCOME_SUCCESS : TCAP_OUTCOME_DENIED);
        if (rc != TCAP_RESULT_OK) return fail("tcap_engine_observe", rc);
    }

    /* Errors are values, never crashes: an agent the engine was not sized for is refused. */
    tcap_verdict v;
    rc = tcap_engine_check(engine, now_us, N_AGENTS, 0, &v);
    printf("agent %d -> %u (%s)\n", N_AGENTS, (unsigned)rc, tcap_result_str(rc));
    return rc == TCAP_RESULT_AGENT_OUT_OF_RANGE ? 0 : 1;
}
