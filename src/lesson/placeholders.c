/* Placeholder lookup and validation over the table in placeholders.def (expanded here without
 * the value functions, so the parser and its fuzz target validate names without the engine
 * or the TUI). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lesson/lesson.h"

static const PhSpec PH[] = {
#define PH(id, name, need, arg, fn, doc) {PH_##id, name, need, arg, doc},
#include "lesson/placeholders.def"
#undef PH
};

const PhSpec *lesson_ph_table(int *n) {
    if (n) *n = (int)(sizeof PH / sizeof PH[0]);
    return PH;
}

const PhSpec *lesson_ph_find(const char *name) {
    for (size_t i = 0; i < sizeof PH / sizeof PH[0]; i++)
        if (!strcmp(PH[i].name, name)) return &PH[i];
    return NULL;
}

static bool parse_int_str(const char *s, long *v) {
    if (!*s) return false;
    char *end;
    long x = strtol(s, &end, 10);
    if (*end) return false;
    if (x < -1000000000L || x > 1000000000L) return false;
    *v = x;
    return true;
}

static bool parse_num_str(const char *s) {
    if (!*s) return false;
    char *end;
    double x = strtod(s, &end);
    return !*end && x == x && x > -1e9 && x < 1e9;
}

bool lesson_ph_validate(const LessonPh *ph, const Lesson *l, Err *e) {
    const PhSpec *sp = lesson_ph_find(ph->key);
    if (!sp) return err_set(e, ERR_FORMAT, "unknown placeholder {%s} (llmscope lesson --placeholders lists them)", ph->key);
    long v;
    switch (sp->arg) {
    case PHA_NONE:
        if (ph->arg[0]) return err_set(e, ERR_FORMAT, "placeholder {%s} takes no argument (got \":%s\")", ph->key, ph->arg);
        break;
    case PHA_INT_OPT:
        if (ph->arg[0] && !parse_int_str(ph->arg, &v))
            return err_set(e, ERR_FORMAT, "placeholder {%s:%s}: the argument must be an integer", ph->key, ph->arg);
        break;
    case PHA_INT:
        if (!parse_int_str(ph->arg, &v))
            return err_set(e, ERR_FORMAT, "placeholder {%s}: needs an integer argument, like {%s:4}", ph->key, ph->key);
        break;
    case PHA_NUM:
        if (!parse_num_str(ph->arg))
            return err_set(e, ERR_FORMAT, "placeholder {%s}: needs a number argument, like {%s:0.7}", ph->key, ph->key);
        break;
    case PHA_NAME: {
        bool ok = ph->arg[0] != 0;
        for (const char *q = ph->arg; *q; q++) if (!((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '-')) ok = false;
        if (!ok) return err_set(e, ERR_FORMAT, "placeholder {%s}: needs a variant name, like {%s:mha}", ph->key, ph->key);
        break;
    }
    case PHA_INT2: {
        char a[48];
        snprintf(a, sizeof a, "%s", ph->arg);
        char *comma = strchr(a, ',');
        if (!comma) return err_set(e, ERR_FORMAT, "placeholder {%s}: needs two positions, like {%s:1,2}", ph->key, ph->key);
        *comma = 0;
        if (!parse_int_str(a, &v) || !parse_int_str(comma + 1, &v))
            return err_set(e, ERR_FORMAT, "placeholder {%s:%s}: both positions must be integers", ph->key, ph->arg);
        break;
    }
    }
    if (ph->ref[0] && strcmp(ph->ref, "A") && strcmp(ph->ref, "B")) {
        if (l) {
            bool found = false;
            for (int i = 0; i < l->n_refs; i++)
                if (!strcmp(l->refs[i].name, ph->ref)) found = true;
            if (!found) return err_set(e, ERR_FORMAT, "placeholder {%s@%s}: \"%s\" is not declared in \"refs\"", ph->key, ph->ref, ph->ref);
        }
        if (sp->need == PHN_SESSION || sp->need == PHN_TOKEN)
            return err_set(e, ERR_FORMAT, "placeholder {%s@%s}: %s needs a running model; a ref only gives its config%s",
                           ph->key, ph->ref, ph->key, sp->need == PHN_TOKEN ? " (use @B for the compare session)" : "");
    }
    return true;
}
