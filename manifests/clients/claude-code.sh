#!/bin/sh
# Register sharkfin-mcp with Claude Code (what `sharkfin-mcp config claude-code` prints, with a
# plain `uvx`). Put your key in place of the placeholder first; add --scope user to make the
# server available in every project.
claude mcp add sharkfin -e SHARKFIN_URL=ws://127.0.0.1:16000/ws -e SHARKFIN_API_KEY='<your Sharkfin API key>' -- uvx sharkfin-mcp@0.1.0
