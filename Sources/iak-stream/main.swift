import Foundation
import Service

// The executable is thin: every command lives in the Service library.
FastBLAS.reexecuteIfNeeded(arguments: CommandLine.arguments)
exit(CommandLineTool.main(arguments: CommandLine.arguments))
