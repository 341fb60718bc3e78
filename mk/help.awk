# `make help`: the targets of every makefile, grouped by stage, in aligned columns.
#
# A target is listed when its rule line has a `## ` comment:   train: setup ## fine-tune: make train …
# It belongs to the group of the last `##@ <group>` line above it in its file. Without one, a target
# named bench* or docker-* is a benchmark or container target, anything else takes its file's group
# from `defaults` (Makefile=setup mk/eval.mk=evaluate …). Groups print in `order`, unknown ones after.
BEGIN {
    norder = split(order, groups, " ")
    npairs = split(defaults, pairs, " ")
    for (i = 1; i <= npairs; i++) {
        split(pairs[i], kv, "=")
        file_group[kv[1]] = kv[2]
    }
}
FNR == 1 { declared = "" }
/^##@ / { declared = substr($0, 5); next }
/^[a-zA-Z0-9_.-]+:.*## / {
    name = $0
    sub(/:.*/, "", name)
    desc = $0
    sub(/^[^#]*## /, "", desc)
    group = declared
    if (group == "" && name ~ /^bench/) group = "benchmarks"
    if (group == "" && name ~ /^docker-/) group = "containers"
    if (group == "") group = (FILENAME in file_group) ? file_group[FILENAME] : "other"
    if (!(group in count)) seen[++nseen] = group
    count[group]++
    names[group, count[group]] = name
    descs[group, count[group]] = desc
    if (length(name) > width) width = length(name)
}
END {
    n = 0
    for (i = 1; i <= norder; i++) { out[++n] = groups[i]; listed[groups[i]] = 1 }
    for (i = 1; i <= nseen; i++) if (!(seen[i] in listed)) out[++n] = seen[i]
    for (i = 1; i <= n; i++) {
        group = out[i]
        if (!(group in count)) continue
        printf "%s%s\n", (i > 1 ? "\n" : ""), group
        for (j = 1; j <= count[group]; j++) printf "  %-" width "s  %s\n", names[group, j], descs[group, j]
    }
}
