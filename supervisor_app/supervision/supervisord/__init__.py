"""Running supervisord and talking to it: the child process, its XML-RPC client, and the plugin that runs inside it."""
