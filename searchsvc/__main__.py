from searchsvc.cli.group import entry

entry()
