/* Predict, then reveal: scoring a student's answer against the live value (lesson.h). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/i18n.h"
#include "lesson/lesson.h"

bool lesson_parse_number(const char *s, double *out) {
    if (!s) return false;
    char buf[128];
    size_t n = 0;
    const char *p = s;
    while (*p == ' ' || *p == '\t' || *p == LESSON_MARK_ON || *p == LESSON_MARK_OFF) p++;
    /* digits with thousands commas ("1,536"), a sign, a point and an exponent */
    for (; *p && n + 1 < sizeof buf; p++) {
        char ch = *p;
        if (ch == LESSON_MARK_ON || ch == LESSON_MARK_OFF) continue;
        if (ch == ',' && n && isdigit((unsigned char)buf[n - 1]) && isdigit((unsigned char)p[1])) continue;
        if (isdigit((unsigned char)ch) || ch == '.' || ((ch == '-' || ch == '+') && (n == 0 || buf[n - 1] == 'e' || buf[n - 1] == 'E')) ||
            ((ch == 'e' || ch == 'E') && n && isdigit((unsigned char)buf[n - 1]) && (isdigit((unsigned char)p[1]) || p[1] == '-' || p[1] == '+')))
            buf[n++] = ch;
        else
            break;
    }
    buf[n] = 0;
    if (!n) return false;
    char *end;
    double v = strtod(buf, &end);
    if (end == buf || *end || !isfinite(v)) return false;
    *out = v;
    return true;
}

/* Trimmed, lowercase (ASCII), with the visible-space mark "␣" as a space, for token answers. */
static void norm_token(const char *s, char *out, size_t cap) {
    size_t n = 0;
    for (const char *p = s; *p && n + 1 < cap; p++) {
        if (*p == LESSON_MARK_ON || *p == LESSON_MARK_OFF) continue;
        if (!strncmp(p, "\xe2\x90\xa3", 3)) { out[n++] = ' '; p += 2; continue; }                 /* ␣ */
        if (!strncmp(p, "\xe2\x80\x9c", 3) || !strncmp(p, "\xe2\x80\x9d", 3)) { out[n++] = '"'; p += 2; continue; }   /* “ ” */
        out[n++] = (char)tolower((unsigned char)*p);
    }
    out[n] = 0;
    char *a = out;
    while (*a == ' ' || *a == '\t' || *a == '"' || *a == '\'') a++;
    size_t L = strlen(a);
    while (L && (a[L - 1] == ' ' || a[L - 1] == '\t' || a[L - 1] == '"' || a[L - 1] == '\'')) a[--L] = 0;
    memmove(out, a, L + 1);
}

static void strip_marks(const char *s, char *out, size_t cap) {
    size_t n = 0;
    for (const char *p = s; *p && n + 1 < cap; p++)
        if (*p != LESSON_MARK_ON && *p != LESSON_MARK_OFF) out[n++] = *p;
    out[n] = 0;
}

/* A number with up to 4 significant digits, no exponent for everyday sizes. */
static void fmt_num(double v, char *buf, size_t cap) {
    double a = fabs(v);
    if (a != 0 && (a >= 1e9 || a < 1e-4)) snprintf(buf, cap, "%.3g", v);
    else if (a >= 1000 || v == floor(v)) snprintf(buf, cap, "%.0f", v);
    else snprintf(buf, cap, "%.4g", v);
}

bool lesson_predict_score(const LessonPredict *pr, const char *live, const char *given, bool zh, LessonScore *o, Err *e) {
    memset(o, 0, sizeof *o);
    o->choice = -1;
    const UiLang UL = zh ? LANG_ZH : LANG_EN;   /* the score speaks the lesson's language */
    char lv[512], gv[128];
    strip_marks(live ? live : "", lv, sizeof lv);
    strip_marks(given ? given : "", gv, sizeof gv);
    switch (pr->kind) {
    case LP_NUMBER: {
        if (!lesson_parse_number(lv, &o->live)) return err_set(e, ERR_FORMAT, "the live value \"%.60s\" is not a number", lv);
        if (!lesson_parse_number(gv, &o->given)) return err_set(e, ERR_ARG, "\"%.40s\" is not a number", gv);
        o->abs_err = fabs(o->given - o->live);
        o->rel_err = o->live != 0 ? o->abs_err / fabs(o->live) : NAN;
        o->right = o->live != 0 ? o->rel_err <= 0.05 : o->abs_err == 0;
        char g[48], a[48], rel[48];
        fmt_num(o->given, g, sizeof g);
        fmt_num(o->abs_err, a, sizeof a);
        if (isnan(o->rel_err)) snprintf(rel, sizeof rel, "-");
        else snprintf(rel, sizeof rel, "%.1f%%", 100 * o->rel_err);
        snprintf(o->text, sizeof o->text, tr_lang(UL, "%sYou said %s; the model's value is %s: off by %s (%s)."), o->right ? "\xe2\x9c\x93 " : "", g, lv, a, rel);
        return true;
    }
    case LP_CHOICE: {
        char want[512];
        norm_token(lv, want, sizeof want);
        for (int i = 0; i < pr->n_choices; i++) {
            char ch[512];
            norm_token(pr->choices[i], ch, sizeof ch);
            if (!strcmp(ch, want)) o->choice = i;
        }
        if (o->choice < 0) {
            double k;
            if (lesson_parse_number(lv, &k) && k == floor(k) && k >= 1 && k <= pr->n_choices && strspn(lv, "0123456789 ") == strlen(lv)) o->choice = (int)k - 1;
            else return err_set(e, ERR_FORMAT, "the live value \"%.60s\" is none of the choices", lv);
        }
        int gi = -1;
        char *end;
        long k = strtol(gv, &end, 10);
        if (end != gv && !*end && k >= 1 && k <= pr->n_choices) gi = (int)k - 1;
        else {
            char gn[128];
            norm_token(gv, gn, sizeof gn);
            for (int i = 0; i < pr->n_choices; i++) {
                char ch[512];
                norm_token(pr->choices[i], ch, sizeof ch);
                if (*gn && !strcmp(ch, gn)) gi = i;
            }
        }
        if (gi < 0) return err_set(e, ERR_ARG, "\"%.40s\" is not one of the %d choices (type 1 to %d)", gv, pr->n_choices, pr->n_choices);
        o->right = gi == o->choice;
        o->given = gi + 1;
        o->live = o->choice + 1;
        const char *ans = pr->choices[o->choice];
        if (o->right)
            snprintf(o->text, sizeof o->text, tr_lang(UL, "\xe2\x9c\x93 Right: %s."), ans);
        else
            snprintf(o->text, sizeof o->text, tr_lang(UL, "\xe2\x9c\x97 Not quite: you chose %s; the answer is %s."), pr->choices[gi], ans);
        return true;
    }
    case LP_TOKEN: {
        char want[512], got[128];
        norm_token(lv, want, sizeof want);
        norm_token(gv, got, sizeof got);
        if (!*want) return err_set(e, ERR_FORMAT, "the live token is empty");
        if (!*got) return err_set(e, ERR_ARG, "no answer typed");
        o->right = !strcmp(want, got);
        char shown[512];                        /* the model's token as written (case kept) */
        strip_marks(lv, shown, sizeof shown);
        size_t a = strspn(shown, " \"");
        memmove(shown, shown + a, strlen(shown + a) + 1);
        size_t L = strlen(shown);
        while (L && (shown[L - 1] == ' ' || shown[L - 1] == '"')) shown[--L] = 0;
        if (!strncmp(shown, "\xe2\x80\x9c", 3)) memmove(shown, shown + 3, strlen(shown + 3) + 1);
        L = strlen(shown);
        if (L >= 3 && !strcmp(shown + L - 3, "\xe2\x80\x9d")) shown[L - 3] = 0;
        a = strspn(shown, " ");
        memmove(shown, shown + a, strlen(shown + a) + 1);
        if (!*shown) snprintf(shown, sizeof shown, "%s", want);
        if (o->right)
            snprintf(o->text, sizeof o->text, tr_lang(UL, "\xe2\x9c\x93 Right: \"%s\"."), shown);
        else
            snprintf(o->text, sizeof o->text, tr_lang(UL, "\xe2\x9c\x97 Not quite: you said \"%s\"; the model's token is \"%s\"."), gv, shown);
        return true;
    }
    default:
        return err_set(e, ERR_ARG, "this step has no prediction");
    }
}
