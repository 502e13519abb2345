// Oracle for patchwarden's Maven version scheme (tests/integration/versions/test_oracles.py).
// Reads "a<TAB>b" lines on stdin and answers each with -1, 0 or 1 from Maven's own
// org.apache.maven.artifact.versioning.ComparableVersion, flushing after every line so one JVM
// serves a whole test session.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.apache.maven.artifact.versioning.ComparableVersion;

public class MavenCompare {
    public static void main(String[] args) throws Exception {
        BufferedReader in =
                new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        PrintStream out = new PrintStream(System.out, false, "UTF-8");
        String line;
        while ((line = in.readLine()) != null) {
            int tab = line.indexOf('\t');
            ComparableVersion a = new ComparableVersion(line.substring(0, tab));
            ComparableVersion b = new ComparableVersion(line.substring(tab + 1));
            out.println(Integer.signum(a.compareTo(b)));
            out.flush();
        }
    }
}
