"""A local HTTP server that speaks the Jira and GitHub REST APIs over generated data."""
