import Foundation
import Service

// The executable is thin: every command lives in the Service library.
exit(CommandLineTool.main(arguments: CommandLine.arguments))
