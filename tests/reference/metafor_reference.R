# Reference values from R metafor for tests/test_metafor_reference.py.
#
# Usage (from the repository root):  Rscript tests/reference/metafor_reference.R [out.json] [data_dir]
# `make reference` runs it; CI runs it and fails if the committed JSON drifts.
#
# The workbook's conversions are implemented here again, independently of the
# Python code, from the raw CSVs (SD = SEM*sqrt(n); Luo 2018 mean and Wan 2014 SD
# from quartiles; SE from a 95% CI or an exact p; counts from percentages; a
# shared control group split over the parallel-group comparisons that use it), and
# so are the review's eligibility rules that choose each analysis' rows (see the
# workbook section). metafor 3.8 has no conv.* helpers, so these few lines are plain R.
#
# Convergence: metafor's defaults stop iterative estimators at a change of 1e-5
# (threshold) and root finders at .Machine$double.eps^0.25 (tol), which leaves
# PM, ML, REML and the Q-profile limits ~1e-5 from the exact solution. They are
# tightened here so that the reference is the converged solution and the tests can
# use a relative tolerance of 1e-6.

suppressMessages({
  library(metafor)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args) >= 1) args[1] else "tests/reference/metafor_reference.json"
data_dir <- if (length(args) >= 2) args[2] else "data"

ctrl <- list(threshold = 1e-12, maxiter = 10000, tol = 1e-12)
z975 <- qnorm(0.975)

fit_one <- function(yi, vi, method, test, trials = length(yi)) {
  r <- rma(yi, vi, method = method, test = test, control = ctrl)
  p <- predict(r)
  # Normal-theory SE 1/sqrt(sum w*) of the same method's model (= rma(test = "z")$se).
  se_wald <- if (test == "z") r$se else rma(yi, vi, method = method, test = "z", control = ctrl)$se
  if (test == "adhoc") {
    # metafor 3.8.1 applies the ad hoc correction itself (Roever, Knapp & Friede 2015:
    # q* = max(1, q), i.e. SE = max(SE_knha, SE_z)); checked here so that a metafor that
    # silently treated "adhoc" as "knha" would stop the script instead of writing knha numbers.
    se_kh <- rma(yi, vi, method = method, test = "knha", control = ctrl)$se
    stopifnot(isTRUE(all.equal(r$se, max(se_kh, se_wald), tolerance = 1e-12)))
  }
  # Prediction interval with t(k - 2) (Higgins, Thompson & Spiegelhalter 2009, eq. 12;
  # IntHout et al. 2016): mu +- qt(.975, k - 2) * sqrt(tau2 + se_wald^2); only k >= 3 and
  # random-effects models (NA otherwise), and only from at least 3 independent trials (dose
  # arms of one trial sharing a control count once), on trials - 2 df. Computed from the fitted
  # object, not by predict().
  pi_t <- c(NA, NA)
  if (method != "FE" && r$k >= 3 && trials >= 3)
    pi_t <- as.numeric(r$b) + c(-1, 1) * qt(0.975, min(trials, r$k) - 2) * sqrt(r$tau2 + se_wald^2)
  e <- list(method = method, test = test, k = r$k, estimate = as.numeric(r$b), se = r$se,
            ci_lower = r$ci.lb, ci_upper = r$ci.ub,
            # predict() gives no PI for FE models: NA (null in JSON, skipped by the tests)
            pi_lower = if (is.null(p$pi.lb)) NA else p$pi.lb, pi_upper = if (is.null(p$pi.ub)) NA else p$pi.ub,
            pi_t_lower = pi_t[1], pi_t_upper = pi_t[2],
            z_or_t = r$zval, p = r$pval, tau2 = r$tau2, q = r$QE, q_p = r$QEp,
            weights = as.numeric(weights(r)))
  if (r$k > 1) {
    e$i2 <- r$I2
    e$h2 <- r$H2
  }
  if (method != "FE" && r$k > 1) {
    # tau2.max: metafor caps the Q-profile upper limit at 100 by default, which is
    # a scale-dependent artefact for MD on rating-scale points; raise the cap.
    ci <- confint(r, control = list(tol = 1e-12, tau2.max = 1e6))$random
    e$tau2_ci <- as.numeric(ci["tau^2", 2:3])
    e$i2_ci <- as.numeric(ci["I^2(%)", 2:3])
    e$h2_ci <- as.numeric(ci["H^2", 2:3])
  }
  if (method == "REML" && test == "z" && r$k > 2) {
    l <- leave1out(r)  # refits with the model's (tightened) control
    e$loo_estimate <- as.numeric(l$estimate)
    e$loo_se <- as.numeric(l$se)
    e$loo_tau2 <- as.numeric(l$tau2)
  }
  e
}

# tests: the workbook keeps c("z", "knha"); the example datasets add "adhoc" (EX_TESTS).
# The t-based tests (knha, adhoc) are not fitted for FE models or a single study.
fit_all <- function(yi, vi, methods = c("FE", "DL", "PM", "ML", "REML"), tests = c("z", "knha")) {
  res <- list()
  for (m in methods) for (t in tests) {
    if (length(yi) < 2 && (m != "FE" || t != "z")) next
    if (m == "FE" && t != "z") next
    res[[paste(m, t, sep = ":")]] <- fit_one(yi, vi, m, t)
  }
  res
}
EX_TESTS <- c("z", "knha", "adhoc")

# ---------------------------------------------------------------- example datasets
examples <- list()

bcg <- dat.bcg
e <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = bcg)
examples$bcg_rr <- list(measure = "RR",
  input = list(e1 = bcg$tpos, n1 = bcg$tpos + bcg$tneg, e2 = bcg$cpos, n2 = bcg$cpos + bcg$cneg, year = bcg$year),
  yi = as.numeric(e$yi), vi = as.numeric(e$vi), fits = fit_all(e$yi, e$vi, tests = EX_TESTS))
e <- escalc(measure = "OR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = bcg)
examples$bcg_or <- list(measure = "OR", input = examples$bcg_rr$input,
  yi = as.numeric(e$yi), vi = as.numeric(e$vi), fits = fit_all(e$yi, e$vi, "REML", tests = EX_TESTS))

# Mantel-Haenszel (rma.mh), no continuity correction for the pooled estimate
mh <- list()
for (meas in c("OR", "RR")) {
  r <- rma.mh(measure = meas, ai = tpos, bi = tneg, ci = cpos, di = cneg, data = bcg)
  mh[[meas]] <- list(estimate = as.numeric(r$b), se = r$se, ci_lower = r$ci.lb, ci_upper = r$ci.ub,
                     z_or_t = r$zval, p = r$pval, k = r$k)
}
examples$bcg_mh <- list(measure = "MH", input = examples$bcg_rr$input, mh = mh)

nor <- dat.normand1999
e <- escalc(measure = "SMD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i, data = nor)
examples$normand_smd <- list(measure = "SMD",
  input = list(m1 = nor$m1i, sd1 = nor$sd1i, n1 = nor$n1i, m2 = nor$m2i, sd2 = nor$sd2i, n2 = nor$n2i),
  yi = as.numeric(e$yi), vi = as.numeric(e$vi), fits = fit_all(e$yi, e$vi, tests = EX_TESTS))
e <- escalc(measure = "MD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i, data = nor)
examples$normand_md <- list(measure = "MD", input = examples$normand_smd$input,
  yi = as.numeric(e$yi), vi = as.numeric(e$vi), fits = fit_all(e$yi, e$vi, "REML", tests = EX_TESTS))

hine <- dat.hine1989
e <- escalc(measure = "RD", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = hine)
examples$hine_rd <- list(measure = "RD",
  input = list(e1 = hine$ai, n1 = hine$n1i, e2 = hine$ci, n2 = hine$n2i),
  yi = as.numeric(e$yi), vi = as.numeric(e$vi), fits = fit_all(e$yi, e$vi, tests = EX_TESTS))

# ---------------------------------------------------------------- data files
rd <- function(name) {
  d <- read.csv(file.path(data_dir, paste0(name, ".csv")), stringsAsFactors = FALSE,
                encoding = "UTF-8", na.strings = "")
  d[d$status == "complete", , drop = FALSE]
}
lgl <- function(x) toupper(as.character(x)) %in% c("TRUE", "1")

# ---------------------------------------------------------------- skewness tests
# Shi, Luo, Wan, Liu, Liu, Bian & Tong (2023), Stat Methods Med Res 32(7):1338-1360,
# doi:10.1177/09622802231172043: tests for skewness from the sample size and (part of) the
# five-number summary, 5% level, "skewed" when T >= crit. metafor 3.8 has no conv.fivenum();
# this is a port of the test logic of metafor >= 4.0 conv.fivenum() (R/conv.fivenum.r,
# Viechtbauer; constants of the published paper; arXiv:2010.05749v1 had 1.01/log(n+9) +
# 2.43/(n+1), 2.66/sqrt(n) - 5.92/n^2 and 2.97/sqrt(n) - 39.1/n^3), written out here so the
# Python code is checked against an independent implementation.
#   case 1 (min, median, max): T = |min + max - 2 m| / (max - min), crit = 1/log(n + 9) + 2.5/(n + 1)
#   case 2 (q1, median, q3):   T = |q1 + q3 - 2 m| / (q3 - q1),     crit = 2.65/sqrt(n) - 6/n^2
#   case 3 (all five):         T = max(2.65 log(0.6 n)/sqrt(n) * T1, T2), crit = 3/sqrt(n) - 40/n^3
skew_test <- function(min = NA, q1 = NA, median, q3 = NA, max = NA, n) {
  t1 <- abs((min + max - 2 * median) / (max - min))
  t2 <- abs((q1 + q3 - 2 * median) / (q3 - q1))
  if (!is.na(min) && !is.na(max) && !is.na(q1) && !is.na(q3)) {
    case <- 3L; tval <- max(2.65 * log(0.6 * n) / sqrt(n) * t1, t2); crit <- 3 / sqrt(n) - 40 / n^3
  } else if (!is.na(q1) && !is.na(q3)) {
    case <- 2L; tval <- t2; crit <- 2.65 / sqrt(n) - 6 / n^2
  } else {
    case <- 1L; tval <- t1; crit <- 1 / log(n + 9) + 2.5 / (n + 1)
  }
  list(case = case, min = min, q1 = q1, median = median, q3 = q3, max = max, n = n,
       T = tval, crit = crit, sig = isTRUE(tval >= crit))
}

skewness <- list()
# The worked/real-data example of Shi et al. (2023) could not be retrieved (only the first
# page of the arXiv v1 and journal copies was reachable), so the documented examples are those
# of metafor's own conv.fivenum() help page (metafor >= 4.0, man/conv.fivenum.Rd, n = 20):
# example 1 "none of the tests are significant" (cases 1-3); example 2 changes case 3 to
# q3 = 14, max = 20, for which "the test for skewness is significant".
doc <- "metafor >= 4.0 man/conv.fivenum.Rd, examples"
add_doc <- function(x, label, documented_sig) {
  x$label <- label; x$documented_sig <- documented_sig; x$documented_by <- doc; x
}
skewness$documented <- list(
  add_doc(skew_test(min = 2, median = 6, max = 14, n = 20), "conv.fivenum example 1, case 1", FALSE),
  add_doc(skew_test(q1 = 4, median = 6, q3 = 10, n = 20), "conv.fivenum example 1, case 2", FALSE),
  add_doc(skew_test(min = 2, q1 = 4, median = 6, q3 = 10, max = 14, n = 20), "conv.fivenum example 1, case 3", FALSE),
  add_doc(skew_test(min = 2, q1 = 4, median = 6, q3 = 14, max = 20, n = 20), "conv.fivenum example 2, case 3", TRUE))
# The workbook's arms reported as median (Q1-Q3) (data/blood_glutamate.csv, complete rows).
sk <- rd("blood_glutamate")
skewness$blood_glutamate <- list()
for (a in 1:2) {
  med <- sk[[paste0("median_arm", a)]]
  for (i in which(!is.na(med))) {
    x <- skew_test(q1 = sk[[paste0("q1_arm", a)]][i], median = med[i], q3 = sk[[paste0("q3_arm", a)]][i],
                   n = sk[[paste0("n_arm", a)]][i])
    x$study_id <- sk$study_id[i]; x$arm <- a
    skewness$blood_glutamate[[length(skewness$blood_glutamate) + 1]] <- x
  }
}


# ---------------------------------------------------------------- workbook data
# Every analysis the book pools (glumeta.stats.plan.analyze, glumeta.stats.synthesis.synthesis), with its
# rows chosen here from the raw CSVs by the review's eligibility rules, written out below in R
# (not read from data/datapackage.json and not from any Python output):
#   blood_glutamate        overall: complete rows whose median/IQR conversion passes the skewness
#                          test (Shi et al. 2023, skew_test above, either arm);
#                          sensitivity:with-skewed: every complete row
#   esketamine_madrs       overall: 24 h; sensitivity:own-primary: primary == TRUE (any time)
#   nitrous_oxide_hamd     overall: schedule "single session", 24 h, comparison "50% N2O vs ..."
#   ketamine_escitalopram  overall:<outcome> (RR), <outcome>:OR, <outcome>:RD: schedule
#                          "single infusion"; sensitivity:any-schedule:<outcome>: any schedule
# Every main analysis also has a sensitivity:z twin (same rows, z-test; ketamine:
# sensitivity:z:<outcome>); time:<t> applies every rule but the one on time; subgroups
# (<column>:<level>, subgroups:<column>) split the rows of the main analysis.
# Only complete rows with a defined effect are pooled. A shared control group is split
# (Cochrane Handbook §23.3.4) only among parallel-group rows of one pool with the same
# shared_control key and time; crossover rows are never split, and a pool may not hold two
# rows of one trial otherwise (checked below: the script stops).
# Fits: every method x test (FE only with z; sensitivity:z only z); a single study is fitted
# by metafor itself, which then uses the z-test (rma's own fallback).
METHODS <- c("FE", "DL", "PM", "ML", "REML")
WB_TESTS <- c("z", "knha", "adhoc")

# fit_one with metafor's "Setting argument test='z' since k=1" warning muffled (only that one)
fit_quiet <- function(yi, vi, method, test, trials = length(yi)) {
  withCallingHandlers(fit_one(yi, vi, method, test, trials), warning = function(w) {
    if (grepl("since k=1", conditionMessage(w), fixed = TRUE)) invokeRestart("muffleWarning")
  })
}
fit_grid <- function(yi, vi, methods = METHODS, tests = WB_TESTS, trials = length(yi)) {
  res <- list()
  for (m in methods) for (t in tests) {
    if (m == "FE" && t != "z") next
    res[[paste(m, t, sep = ":")]] <- fit_quiet(yi, vi, m, t, trials)
  }
  res
}

# Shared control split among the parallel rows of `s` that share shared_control and time:
# v' = v (1/n1 + K/n2) / (1/n1 + 1/n2) (the control counted as n2/K, the implied SD kept).
split_vi <- function(s, vi = s$vi) {
  if (is.null(s$shared_control)) return(vi)
  sh <- !is.na(s$shared_control) & s$shared_control != "" & s$design %in% "parallel"
  key <- ifelse(sh, paste(s$shared_control, s$time, sep = "\r"), paste0("-row", seq_len(nrow(s))))
  K <- as.numeric(table(key)[key])
  ifelse(K > 1, vi * (1 / s$n_arm1 + K / s$n_arm2) / (1 / s$n_arm1 + 1 / s$n_arm2), vi)
}

# Two rows of one trial in one pool only as parallel arms sharing one declared control at one time.
check_independent <- function(s, what) {
  if (!"study_id" %in% names(s)) return(invisible())
  for (sid in unique(s$study_id[duplicated(s$study_id)])) {
    g <- s[s$study_id == sid, , drop = FALSE]
    ok <- all(g$design %in% "parallel") && length(unique(g$time)) == 1 &&
      !anyNA(g$shared_control) && length(unique(g$shared_control)) == 1
    if (!ok) stop(what, ": study ", sid, " enters the pool ", nrow(g), " times as if independent")
  }
}

# One pooled analysis of the rows `s` (yi, vi = own variance, key): its rows and fits.
pool_rows <- function(s, what, measure, tests = WB_TESTS, split = TRUE, methods = METHODS) {
  if (nrow(s) == 0) return(NULL)  # no rows: no analysis (assigning NULL adds no list element)
  check_independent(s, what)
  trials <- if ("study_id" %in% names(s)) length(unique(s$study_id)) else nrow(s)
  if (trials == 1 && nrow(s) > 1 && measure == "MD" && "shared_control" %in% names(s)) {
    # one trial's dose arms: combined into its one comparison (no between-study variance to fit)
    comb <- combine_arms(s)
    if (!is.null(comb)) { s <- comb; split <- FALSE }
  }
  v <- if (split) split_vi(s) else s$vi
  list(measure = measure, keys = I(s$key), fits = fit_grid(s$yi, v, methods, tests, trials))
}

# One comparison per trial: the parallel arms of a trial that share one control at one time
# point combined by rma.mv(method = "FE") with the shared-control covariance
# Cov(MD_i, MD_j) = s_i s_j / n_c, s_i^2 = v_i / (1/n1_i + 1/n_c) (Gleser & Olkin 2009),
# the other rows unchanged; NULL when no trial has several arms.
combine_arms <- function(s) {
  sh <- !is.na(s$shared_control) & s$shared_control != "" & s$design %in% "parallel"
  grp <- ifelse(sh, paste(s$study_id, s$shared_control, s$time, sep = "\r"), paste0("-row", seq_len(nrow(s))))
  if (!any(duplicated(grp))) return(NULL)
  keep <- !duplicated(grp)
  out <- s[keep, , drop = FALSE]
  for (j in seq_len(nrow(out))) {
    i <- which(grp == grp[keep][j])
    if (length(i) < 2) next
    nc <- s$n_arm2[i[1]]
    s2 <- s$vi[i] / (1 / s$n_arm1[i] + 1 / nc)
    V <- sqrt(outer(s2, s2)) / nc
    diag(V) <- s$vi[i]
    f <- rma.mv(s$yi[i], V, method = "FE")
    out$yi[j] <- as.numeric(f$b)
    out$vi[j] <- f$se^2
    out$n_arm1[j] <- sum(s$n_arm1[i])
    parts <- sub(" vs .*$", "", s$comparison[i])
    out$comparison[j] <- paste0(paste(parts, collapse = " + "), " vs ", sub("^.* vs ", "", s$comparison[i[1]]))
    out$key[j] <- paste(out$study_id[j], out$comparison[j], out$time[j], sep = " | ")
    out$shared_control[j] <- NA
  }
  out
}

# Test for subgroup differences: a random-effects fit per level (same method and test), then
# Q of a fixed-effect model over the subgroup estimates with their SEs (Borenstein 2009, ch. 19).
subgroup_test <- function(s, col, methods = METHODS, tests = WB_TESTS) {
  lv <- unique(s[[col]])
  v <- split_vi(s)
  res <- list()
  for (m in methods) for (t in tests) {
    if (m == "FE" && t != "z") next
    est <- c(); se_g <- c()
    for (g in lv) {
      i <- s[[col]] == g
      r <- withCallingHandlers(rma(s$yi[i], v[i], method = m, test = t, control = ctrl),
        warning = function(w) if (grepl("since k=1", conditionMessage(w), fixed = TRUE)) invokeRestart("muffleWarning"))
      est <- c(est, as.numeric(r$b)); se_g <- c(se_g, r$se)
    }
    b <- rma(est, sei = se_g, method = "FE")
    res[[paste(m, t, sep = ":")]] <- list(q_between = b$QE, df = length(lv) - 1, p = b$QEp)
  }
  list(levels = I(lv), k = nrow(s), tests = res)
}

# All rules but those named in `relax`, as one logical vector.
admit <- function(rules, n, relax = character()) {
  ok <- rep(TRUE, n)
  for (id in setdiff(names(rules), relax)) ok <- ok & rules[[id]]
  ok
}

# The analyses of one data file: `d` = complete rows with a defined effect (yi, vi, key),
# `rules` = named logical vectors over d; `sens` = list(id = list(relax =, where =)).
analyses_of <- function(d, rules, measure, sens = list(), by = NULL, subgroups = character(), name) {
  an <- list()
  ok <- admit(rules, nrow(d))
  main <- d[ok, , drop = FALSE]
  an$overall <- pool_rows(main, paste(name, "overall"), measure)
  an[["sensitivity:z"]] <- pool_rows(main, paste(name, "sensitivity:z"), measure, tests = "z")
  for (id in names(sens)) {
    s <- sens[[id]]
    i <- admit(rules, nrow(d), s$relax) & (if (is.null(s$where)) TRUE else s$where)
    an[[paste0("sensitivity:", id)]] <- pool_rows(d[i, , drop = FALSE], paste(name, id), measure)
  }
  if (measure == "MD" && "shared_control" %in% names(main)) {
    comb <- combine_arms(main)
    if (!is.null(comb)) an[["sensitivity:arms-combined"]] <- pool_rows(comb, paste(name, "arms-combined"), measure)
  }
  if (!is.null(by)) {
    ob <- admit(rules, nrow(d), by)  # every rule but the one on the `by` column (its rule id = column)
    for (lv in unique(d[[by]][ob])) {
      i <- ob & d[[by]] == lv
      an[[paste0(by, ":", lv)]] <- pool_rows(d[i, , drop = FALSE], paste(name, by, lv), measure)
    }
  }
  for (col in subgroups) {
    lv <- unique(na.omit(main[[col]]))
    if (length(lv) < 2) next
    for (g in lv) {
      i <- !is.na(main[[col]]) & main[[col]] == g
      an[[paste0(col, ":", g)]] <- pool_rows(main[i, , drop = FALSE], paste(name, col, g), measure)
    }
    an[[paste0("subgroups:", col)]] <- subgroup_test(main[!is.na(main[[col]]), , drop = FALSE], col)
  }
  an
}

workbook <- list()

# Blood glutamate: SMD (Hedges' g) from arm data
bg <- rd("blood_glutamate")
arm <- function(k) {
  n <- bg[[paste0("n_arm", k)]]
  m <- bg[[paste0("mean_arm", k)]]
  s <- bg[[paste0("sd_arm", k)]]
  sem <- bg[[paste0("sem_arm", k)]]
  s <- ifelse(is.na(s) & !is.na(sem), sem * sqrt(n), s)
  q1 <- bg[[paste0("q1_arm", k)]]; med <- bg[[paste0("median_arm", k)]]; q3 <- bg[[paste0("q3_arm", k)]]
  w <- 0.7 + 0.39 / n                                   # Luo et al. 2018
  eta <- 2 * qnorm((0.75 * n - 0.125) / (n + 0.25))     # Wan et al. 2014
  usem <- is.na(m) & !is.na(med)
  m <- ifelse(usem, w * (q1 + q3) / 2 + (1 - w) * med, m)
  s <- ifelse(usem, (q3 - q1) / eta, s)
  # Shi et al. 2023 skewness test (skew_test above) of each converted median/IQR arm
  skewed <- vapply(seq_along(n), function(i)
    usem[i] && skew_test(q1 = q1[i], median = med[i], q3 = q3[i], n = n[i])$sig, logical(1))
  list(n = n, m = m, s = s, skewed = skewed)
}
a1 <- arm(1); a2 <- arm(2)
e <- escalc(measure = "SMD", m1i = a1$m, sd1i = a1$s, n1i = a1$n, m2i = a2$m, sd2i = a2$s, n2i = a2$n)
bg$yi <- as.numeric(e$yi); bg$vi <- as.numeric(e$vi); bg$key <- bg$study_id
bg$skewed <- a1$skewed | a2$skewed
bgd <- bg[!is.na(bg$yi), , drop = FALSE]
workbook$blood_glutamate <- list(
  key_columns = I("study_id"),
  rows = list(key = I(bg$study_id), yi = bg$yi, vi = bg$vi, skewed = bg$skewed),
  analyses = analyses_of(bgd, list(skew = !bgd$skewed), "SMD",
                         sens = list(`with-skewed` = list(relax = "skew")),
                         subgroups = c("sample", "assay"), name = "blood_glutamate"))

# Contrast files: MD with SE from SE, CI or p (not a bound), else from arm means and SDs
contrast_rows <- function(name) {
  d <- rd(name)
  se <- d$md_se
  ci_se <- (d$md_ci_upper - d$md_ci_lower) / (2 * z975)
  p_se <- abs(d$md) / qnorm(1 - d$p / 2)
  p_ok <- is.na(d$p_prefix) | d$p_prefix != "<"
  se <- ifelse(is.na(se), ci_se, se)
  se <- ifelse(is.na(se) & !is.na(d$md) & p_ok, p_se, se)
  arm_md <- d$mean_arm1 - d$mean_arm2
  arm_v <- d$sd_arm1^2 / d$n_arm1 + d$sd_arm2^2 / d$n_arm2
  d$yi <- ifelse(is.na(se), arm_md, d$md)
  d$vi <- ifelse(is.na(se), arm_v, se^2)
  d$key <- paste(d$study_id, d$comparison, d$time, sep = " | ")
  d
}
# The eligibility rules of each contrast file (rule id = the column it reads, where there is one)
contrast_rules <- list(
  esketamine_madrs = function(d) list(time = d$time %in% "24 h"),
  nitrous_oxide_hamd = function(d) list(schedule = d$schedule %in% "single session",
                                        time = d$time %in% "24 h",
                                        dose = grepl("^50% N2O vs .*$", d$comparison)))
contrast_sens <- list(
  esketamine_madrs = function(d) list(`own-primary` = list(relax = "time", where = lgl(d$primary))),
  nitrous_oxide_hamd = function(d) list())
contrast <- function(name) {
  d <- contrast_rows(name)
  ok <- !is.na(d$yi)
  vs <- rep(NA_real_, nrow(d))
  vs[ok] <- split_vi(d[ok, , drop = FALSE])
  dd <- d[ok, , drop = FALSE]
  # vi_split: each row's variance with its shared control split over the file's parallel rows
  # that share it at the same time point (the effect frame's `vi`)
  list(key_columns = I(c("study_id", "comparison", "time")),
       rows = list(key = I(d$key), yi = d$yi, vi = d$vi, vi_split = vs),
       analyses = analyses_of(dd, contrast_rules[[name]](dd), "MD", sens = contrast_sens[[name]](dd),
                              by = "time", subgroups = c("population", "design"), name = name))
}
workbook$esketamine_madrs <- contrast("esketamine_madrs")
workbook$nitrous_oxide_hamd <- contrast("nitrous_oxide_hamd")

# Binary: counts from percentages when not reported (the integer that rounds to the printed %);
# RR and OR undefined (not pooled) when neither arm has an event
kb <- rd("ketamine_escitalopram")
cnt <- function(e, pct, n) {
  ifelse(!is.na(e), e, round(pct / 100 * n))
}
e1 <- cnt(kb$event_arm1, kb$pct_arm1, kb$totaln_arm1)
e2 <- cnt(kb$event_arm2, kb$pct_arm2, kb$totaln_arm2)
kb$key <- paste(kb$study_id, kb$outcome, kb$time, sep = " | ")
bin <- list(key_columns = I(c("study_id", "outcome", "time")), rows = list(key = I(kb$key)), analyses = list())
by_meas <- list()
for (meas in c("RR", "OR", "RD")) {
  e <- escalc(measure = meas, ai = e1, n1i = kb$totaln_arm1, ci = e2, n2i = kb$totaln_arm2)
  yi <- as.numeric(e$yi); vi <- as.numeric(e$vi)
  if (meas != "RD") { yi[e1 == 0 & e2 == 0] <- NA; vi[e1 == 0 & e2 == 0] <- NA }
  bin$rows[[paste0("yi_", meas)]] <- yi
  bin$rows[[paste0("vi_", meas)]] <- vi
  by_meas[[meas]] <- transform(kb, yi = yi, vi = vi)
}
for (o in unique(kb$outcome)) {
  sub <- function(meas, any_schedule = FALSE) {
    d <- by_meas[[meas]]
    d[d$outcome == o & !is.na(d$yi) & (any_schedule | d$schedule %in% "single infusion"), , drop = FALSE]
  }
  a <- list()
  a[[paste0("overall:", o)]] <- pool_rows(sub("RR"), paste("ketamine", o), "RR")
  a[[paste0("sensitivity:z:", o)]] <- pool_rows(sub("RR"), paste("ketamine", o, "z"), "RR", tests = "z")
  a[[paste0(o, ":OR")]] <- pool_rows(sub("OR"), paste("ketamine", o, "OR"), "OR")
  a[[paste0(o, ":RD")]] <- pool_rows(sub("RD"), paste("ketamine", o, "RD"), "RD")
  a[[paste0("sensitivity:any-schedule:", o)]] <- pool_rows(sub("RR", TRUE), paste("ketamine", o, "any"), "RR")
  bin$analyses <- c(bin$analyses, a[vapply(a, function(x) length(x$keys) > 0, logical(1))])
}
bin$events <- list(e1 = e1, e2 = e2)
workbook$ketamine_escitalopram <- bin

# Synthesis: the 24 h contrasts each drug file's own rules admit, as SMDs (glumeta.stats.synthesis),
# r = 0.5. Parallel: SD = SE/sqrt(1/n1+1/n2), then escalc("SMD"). Crossover: Elbourne 2002,
# d = dz*sqrt(2(1-r)), v = (1/n + d^2/(2n))*2(1-r), times J(n-1) (Hedges 1981). The MD and its
# own (unsplit) SE come from contrast_rows; shared controls are split afterwards on the SMD scale.
DRUG_LABELS <- c(esketamine_madrs = "Esketamine (intranasal)", nitrous_oxide_hamd = "Nitrous oxide (inhaled)")
syn_rows <- function(name, r) {
  d <- contrast_rows(name)
  d <- d[!is.na(d$yi), , drop = FALSE]
  d <- d[admit(contrast_rules[[name]](d), nrow(d)) & d$time == "24 h", , drop = FALSE]
  se <- sqrt(d$vi)
  par <- d$design == "parallel"
  sdp <- se / sqrt(1 / d$n_arm1 + 1 / d$n_arm2)
  e <- escalc(measure = "SMD", m1i = d$yi, sd1i = sdp, n1i = d$n_arm1, m2i = rep(0, nrow(d)), sd2i = sdp, n2i = d$n_arm2)
  n <- d$n_arm1
  dz <- d$yi / (se * sqrt(n))
  dx <- dz * sqrt(2 * (1 - r))
  vx <- (1 / n + dx^2 / (2 * n)) * 2 * (1 - r)
  m <- n - 1
  J <- exp(lgamma(m / 2) - 0.5 * log(m / 2) - lgamma((m - 1) / 2))
  d$yi <- ifelse(par, as.numeric(e$yi), J * dx)
  d$vi <- ifelse(par, as.numeric(e$vi), vx)
  d$drug <- DRUG_LABELS[[name]]
  d
}
cols <- c("study_id", "comparison", "time", "design", "drug", "yi", "vi", "n_arm1", "n_arm2", "shared_control", "key")
syn <- rbind(syn_rows("esketamine_madrs", 0.5)[, cols], syn_rows("nitrous_oxide_hamd", 0.5)[, cols])
syn_an <- list(overall = pool_rows(syn, "synthesis", "SMD", methods = "REML"),
               `sensitivity:z` = pool_rows(syn, "synthesis z", "SMD", tests = "z", methods = "REML"))
for (g in unique(syn$drug))
  syn_an[[paste0("drug:", g)]] <- pool_rows(syn[syn$drug == g, , drop = FALSE], paste("synthesis", g), "SMD",
                                             methods = "REML")
syn_an[["subgroups:drug"]] <- subgroup_test(syn, "drug", methods = "REML")
workbook$synthesis <- list(r = 0.5, key_columns = I(c("study_id", "comparison", "time")),
  rows = list(key = I(syn$key), yi = syn$yi, vi = syn$vi, vi_split = split_vi(syn)),
  analyses = syn_an)

ref <- list(
  generated_by = "tests/reference/metafor_reference.R",
  metafor_version = as.character(packageVersion("metafor")),
  r_version = paste(R.version$major, R.version$minor, sep = "."),
  control = ctrl,
  examples = examples,
  workbook = workbook,
  skewness = skewness)
writeLines(toJSON(ref, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"), out)
cat("wrote", out, "\n")
