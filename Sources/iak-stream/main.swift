import Foundation
import Service

// The executable is thin: every command lives in the Service library. First of all, before any
// thread of ours starts: block the stop signals and re-execute when needed (ProcessStart).
ProcessStart.prepare(arguments: CommandLine.arguments)
exit(CommandLineTool.main(arguments: CommandLine.arguments))
