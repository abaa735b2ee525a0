"""The `trafficcam` command line. `main` builds the Typer app from the command groups beside it;
`common` holds the options and error handling every group shares."""
