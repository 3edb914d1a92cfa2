# Rollup tables arrive with the analytics issue; the app is a placeholder until then.
