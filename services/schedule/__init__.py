"""The schedule service: robot schedules; fires due actions as robot commands."""
