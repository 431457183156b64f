-- A plain GET of the URL wrk was given, reported like every script here.
dofile(os.getenv("WRK_DIR") .. "/report.lua")
