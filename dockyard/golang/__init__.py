"""Go's behaviour where Docker users see it: fmt's %v and strconv quoting, time
formats, durations and go-units sizes. Shared by every layer above (the CLI's
templates and tables, the engine's filters and timestamps), so it sits at the bottom."""
